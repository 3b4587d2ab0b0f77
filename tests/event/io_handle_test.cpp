// IoHandle conformance, once per backend: multishot accept, receive (large bursts,
// edge-triggered draining, end of stream, resets), gather and partial sends, and
// pause/resume backpressure. Lifetimes, connect and re-entrancy are in
// io_handle_lifetime_test.cpp.
#include "event/io_handle_fixture.hpp"

namespace sockit {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Bytes = std::span<const std::byte>;

// --- accept ---------------------------------------------------------------------------------

TEST_P(IoHandle, AcceptDeliversFiftyConnectionsFromFiftyClients) {
  auto listener = listen(*Address::parse("tcp://127.0.0.1:0"));
  ASSERT_TRUE(listener) << listener.error().message();
  ASSERT_TRUE(listener->set_non_blocking(true));
  const Address bound = *listener->local_address();
  std::vector<StreamSocket> clients;
  std::vector<Fd> accepted;
  int errors = 0;
  {
    auto h = watch(listener->native_handle());
    h.accept([&](Result<Fd> fd) {
      if (!fd) {
        ++errors;
        ADD_FAILURE() << "accept: " << fd.error().message();
        return;
      }
      accepted.push_back(std::move(*fd));
    });
    // Two waves: the multishot accept keeps going after the first.
    for (int wave = 0; wave < 2; ++wave) {
      for (int i = 0; i < 25; ++i) {
        auto client = connect(bound, 5s);
        ASSERT_TRUE(client) << client.error().message();
        clients.push_back(std::move(*client));
      }
      ASSERT_TRUE(test::run_until(loop(), [&] { return accepted.size() == clients.size(); }))
          << accepted.size() << " of " << clients.size() << " accepted";
    }
    test::run_for(loop(), 20ms);
  }
  EXPECT_EQ(accepted.size(), 50u);
  EXPECT_EQ(errors, 0);

  // Every accepted descriptor is non-blocking and close-on-exec, and each is the
  // server end of one of the clients (matched by the client's port).
  std::multiset<std::uint16_t> client_ports;
  for (auto& c : clients) client_ports.insert(c.local_address()->port());
  std::multiset<std::uint16_t> peer_ports;
  for (auto& fd : accepted) {
    EXPECT_TRUE(::fcntl(fd.get(), F_GETFL) & O_NONBLOCK) << "accepted fd is blocking";
    EXPECT_TRUE(::fcntl(fd.get(), F_GETFD) & FD_CLOEXEC) << "accepted fd is not close-on-exec";
    sockaddr_in peer{};
    socklen_t len = sizeof peer;
    ASSERT_EQ(::getpeername(fd.get(), reinterpret_cast<sockaddr*>(&peer), &len), 0);
    peer_ports.insert(ntohs(peer.sin_port));
  }
  EXPECT_EQ(peer_ports, client_ports);
}

TEST_P(IoHandle, AcceptWorksOnAUnixPathListener) {
  test::TempDir dir;
  auto listener = listen(*Address::parse("unix:" + dir.file("l.sock")));
  ASSERT_TRUE(listener) << listener.error().message();
  ASSERT_TRUE(listener->set_non_blocking(true));
  std::vector<StreamSocket> clients;
  std::vector<Fd> accepted;
  {
    auto h = watch(listener->native_handle());
    h.accept([&](Result<Fd> fd) {
      EXPECT_TRUE(fd) << fd.error().message();
      if (fd) accepted.push_back(std::move(*fd));
    });
    for (int i = 0; i < 5; ++i) {
      auto client = connect(*listener->local_address(), 5s);
      ASSERT_TRUE(client) << client.error().message();
      clients.push_back(std::move(*client));
    }
    EXPECT_TRUE(test::run_until(loop(), [&] { return accepted.size() == 5; }));
  }
  // The accepted end really is connected to a client.
  ASSERT_FALSE(accepted.empty());
  ASSERT_EQ(::send(accepted.front().get(), "x", 1, MSG_NOSIGNAL), 1);
  int got = 0;
  for (auto& c : clients) {
    std::array<std::byte, 1> b{};
    if (c.set_non_blocking(true) && ::recv(c.native_handle(), b.data(), 1, 0) == 1) ++got;
  }
  EXPECT_EQ(got, 1);
}

// --- receive --------------------------------------------------------------------------------

TEST_P(IoHandle, ReceiveDeliversEveryByteOfAOneMiBBurstSentInOneGo) {
  // Also the edge-triggered case: with epoll-et the engine must drain the socket
  // on every notification, or the tail of the burst is never delivered. The peer's
  // FIN makes an edge-triggered drain read to the end, so the test after this one
  // sends its burst with the connection left open.
  auto [client, server] = test::connected_pair("tcp://127.0.0.1:0");
  ASSERT_TRUE(server.set_non_blocking(true));
  constexpr std::size_t kSize = 1u << 20;
  const auto data = test::random_bytes(kSize, 7);
  std::size_t received = 0;
  std::uint64_t sum = test::checksum({});
  bool eof = false;
  int errors = 0;
  std::thread sender([&client, &data] {
    EXPECT_TRUE(client.send_all(data, 20s));
    EXPECT_TRUE(client.shutdown(ShutdownHow::write));
  });
  {
    auto h = watch(server.native_handle());
    h.receive([&](Result<Bytes> chunk) {
      if (!chunk) {
        ++errors;
        ADD_FAILURE() << "receive: " << chunk.error().message();
      } else if (chunk->empty()) {
        eof = true;
      } else {
        sum = test::checksum(*chunk, sum);
        received += chunk->size();
      }
    });
    EXPECT_TRUE(test::run_until(
        loop(), [&] { return eof || errors > 0; }, 20s))
        << received << " of " << kSize << " bytes, no end of stream";
  }
  server.close();  // unblocks a sender still waiting if the receive stopped early
  sender.join();
  EXPECT_EQ(received, kSize);
  EXPECT_EQ(sum, test::checksum(data));
  EXPECT_TRUE(eof);
}

TEST_P(IoHandle, ReceiveDeliversEveryByteOfBurstsSentOnAConnectionThatStaysOpen) {
  // No FIN ends the bursts, so an edge-triggered drain that stopped at a short read
  // with bytes still queued would stall here: only new edges can deliver the rest.
  // Bursts of varying size (1 byte to 256 KiB, 1 MiB in all) over TCP and Unix.
  for (const std::string& where : {std::string("tcp://127.0.0.1:0"), "unix:@" + test::unique_abstract_name()}) {
    SCOPED_TRACE(where);
    auto [client, server] = test::connected_pair(where);
    ASSERT_TRUE(server.set_non_blocking(true));
    constexpr std::size_t kSize = 1u << 20;
    const auto data = test::random_bytes(kSize, 11);
    std::size_t received = 0;
    std::uint64_t sum = test::checksum({});
    std::thread sender([&client, &data] {
      std::size_t at = 0;
      for (std::size_t burst = 1; at < data.size(); burst = burst * 7 % (256u << 10) + 1) {
        const std::size_t n = std::min(burst, data.size() - at);
        ASSERT_TRUE(client.send_all(std::span(data).subspan(at, n), 20s));
        at += n;
      }
    });
    {
      auto h = watch(server.native_handle());
      h.receive([&](Result<Bytes> chunk) {
        ASSERT_TRUE(chunk) << chunk.error().message();
        ASSERT_FALSE(chunk->empty()) << "end of stream on a connection that stays open";
        sum = test::checksum(*chunk, sum);
        received += chunk->size();
      });
      EXPECT_TRUE(test::run_until(loop(), [&] { return received >= kSize; }, 20s))
          << received << " of " << kSize << " bytes";
    }
    server.close();  // unblocks a sender still waiting if the receive stalled
    sender.join();
    EXPECT_EQ(received, kSize);
    EXPECT_EQ(sum, test::checksum(data));
  }
}

TEST_P(IoHandle, ReceiveDrainsEverythingQueuedBeforeTheFirstTurn) {
  // Everything is in the kernel before the loop looks: one readiness edge, several
  // buffers' worth of data. An edge-triggered engine that reads once per edge stalls.
  auto [a, b] = socket_pair();
  std::vector<std::byte> sent;
  const std::size_t queued = fill_until_full(b, sent);
  ASSERT_GT(queued, 128u * 1024) << "the socket took too little to need several reads";
  ASSERT_TRUE(b.shutdown(ShutdownHow::write));
  ASSERT_TRUE(a.set_non_blocking(true));
  std::vector<std::byte> got;
  bool eof = false;
  {
    auto h = watch(a.native_handle());
    h.receive([&](Result<Bytes> chunk) {
      ASSERT_TRUE(chunk) << chunk.error().message();
      if (chunk->empty()) eof = true;
      got.insert(got.end(), chunk->begin(), chunk->end());
    });
    EXPECT_TRUE(test::run_until(loop(), [&] { return eof; })) << got.size() << " of " << queued;
  }
  EXPECT_EQ(got.size(), queued);
  EXPECT_TRUE(got == sent) << "bytes differ";
}

TEST_P(IoHandle, ReceiveReportsEndOfStreamAsAnEmptySpanAfterThePeerShutsDownWriting) {
  auto [a, b] = socket_pair();
  ASSERT_TRUE(a.set_non_blocking(true));
  std::string got;
  int eofs = 0;
  int calls = 0;
  {
    auto h = watch(a.native_handle());
    h.receive([&](Result<Bytes> chunk) {
      ++calls;
      ASSERT_TRUE(chunk) << chunk.error().message();
      if (chunk->empty()) {
        ++eofs;
      } else {
        EXPECT_EQ(eofs, 0) << "data after end of stream";
        got += test::string_of(*chunk);
      }
    });
    ASSERT_TRUE(b.send_all(std::string_view("tail"), 5s));
    ASSERT_TRUE(b.shutdown(ShutdownHow::write));
    EXPECT_TRUE(test::run_until(loop(), [&] { return eofs > 0; }));
    // Once the stream has ended the receive is over: no more callbacks, and a
    // level-triggered backend must stop watching (else it wakes at once, forever).
    const auto before = loop().stats();
    test::run_for(loop(), 100ms);
    const auto waits = loop().stats().syscalls_wait - before.syscalls_wait;
    EXPECT_LT(waits, 50u) << "the loop spins on a descriptor at end of stream";
  }
  EXPECT_EQ(got, "tail");
  EXPECT_EQ(eofs, 1);
  EXPECT_EQ(calls, 2);
}

TEST_P(IoHandle, ReceiveReportsAResetConnectionAsAnErrorAndEndsTheReceive) {
  auto pair = test::connected_pair("tcp://127.0.0.1:0");
  ASSERT_TRUE(pair.server.set_non_blocking(true));
  std::vector<std::error_code> errors;
  int eofs = 0;
  {
    auto h = watch(pair.server.native_handle());
    h.receive([&](Result<Bytes> chunk) {
      if (!chunk)
        errors.push_back(chunk.error());
      else if (chunk->empty())
        ++eofs;
    });
    test::run_for(loop(), 10ms);
    ASSERT_TRUE(pair.client.set_linger(0s));  // close() sends RST instead of FIN
    pair.client.close();
    EXPECT_TRUE(test::run_until(loop(), [&] { return !errors.empty() || eofs > 0; }));
    test::run_for(loop(), 50ms);
  }
  ASSERT_EQ(errors.size(), 1u) << "end of stream was reported instead of the reset: " << eofs;
  EXPECT_EQ(errors.front(), std::errc::connection_reset) << errors.front().message();
  EXPECT_EQ(eofs, 0);
}

TEST_P(IoHandle, ReceiveCanBeRestartedFromItsOwnCallbackAtEndOfStream) {
  // A final completion (end of stream) hands control back to the caller; starting a
  // new receive from inside it must not be undone by the loop.
  auto [a, b] = socket_pair();
  ASSERT_TRUE(a.set_non_blocking(true));
  int eofs = 0;
  {
    auto h = watch(a.native_handle());
    std::function<void(Result<Bytes>)> on_chunk;
    on_chunk = [&](Result<Bytes> chunk) {
      if (chunk && chunk->empty() && ++eofs == 1) h.receive([&](Result<Bytes> c) { on_chunk(std::move(c)); });
    };
    h.receive([&](Result<Bytes> c) { on_chunk(std::move(c)); });
    ASSERT_TRUE(b.shutdown(ShutdownHow::write));
    // End of stream stays readable, so the restarted receive sees it again.
    EXPECT_TRUE(test::run_until(loop(), [&] { return eofs >= 2; })) << "eofs " << eofs;
  }
}

TEST_P(IoHandle, ReceiveDeliversEachOfManySmallSendsThatArriveAfterTheLastWasRead) {
  // Every chunk is a short read. Edge-triggered, a short stream read ends the drain
  // without the recv that would say EAGAIN; each later send must raise a new edge.
  auto [a, b] = socket_pair();
  ASSERT_TRUE(a.set_non_blocking(true));
  constexpr int kRounds = 200;
  std::string got;
  {
    auto h = watch(a.native_handle());
    h.receive([&](Result<Bytes> chunk) {
      ASSERT_TRUE(chunk) << chunk.error().message();
      got += test::string_of(*chunk);
    });
    for (int i = 0; i < kRounds; ++i) {
      const std::string piece = "piece-" + std::to_string(i) + ";";
      ASSERT_TRUE(b.send_all(std::string_view(piece), 5s));
      const std::size_t want = got.size() + piece.size();
      ASSERT_TRUE(test::run_until(loop(), [&] { return got.size() >= want; }, 5s))
          << "round " << i << ": " << got.size() << " of " << want << " bytes";
    }
  }
  std::string expected;
  for (int i = 0; i < kRounds; ++i) expected += "piece-" + std::to_string(i) + ";";
  EXPECT_EQ(got, expected);
}

TEST_P(IoHandle, ReceiveSeesDataAndEndOfStreamThatArriveWhileAChunkIsBeingDelivered) {
  // The peer sends more and shuts down while the callback for a short chunk runs:
  // after the readiness report was taken and the chunk read, so only a new edge (or
  // a further read) can show them. Neither may be lost.
  auto [a, b] = socket_pair();
  ASSERT_TRUE(a.set_non_blocking(true));
  std::string got;
  int eofs = 0;
  bool followed_up = false;
  {
    auto h = watch(a.native_handle());
    h.receive([&](Result<Bytes> chunk) {
      ASSERT_TRUE(chunk) << chunk.error().message();
      if (chunk->empty()) {
        ++eofs;
        return;
      }
      got += test::string_of(*chunk);
      if (!followed_up) {
        followed_up = true;
        ASSERT_TRUE(b.send_all(std::string_view("second"), 5s));
        ASSERT_TRUE(b.shutdown(ShutdownHow::write));
      }
    });
    ASSERT_TRUE(b.send_all(std::string_view("first"), 5s));
    EXPECT_TRUE(test::run_until(loop(), [&] { return eofs > 0; }, 5s)) << "got \"" << got << "\"";
  }
  EXPECT_EQ(got, "firstsecond");
  EXPECT_EQ(eofs, 1);
}

TEST_P(IoHandle, ReceiveOnADatagramSocketDeliversOneDatagramPerCallback) {
  auto pair = datagram_socket_pair();
  ASSERT_TRUE(pair) << pair.error().message();
  auto& [a, b] = *pair;
  ASSERT_TRUE(a.set_non_blocking(true));
  for (const char* text : {"one", "two", "three"}) ASSERT_TRUE(b.send(std::string_view(text), 5s));
  std::vector<std::string> got;
  {
    auto h = watch(a.native_handle());
    h.receive([&](Result<Bytes> datagram) {
      ASSERT_TRUE(datagram) << datagram.error().message();
      got.push_back(test::string_of(*datagram));
    });
    EXPECT_TRUE(test::run_until(loop(), [&] { return got.size() >= 3; }));
    test::run_for(loop(), 20ms);
  }
  EXPECT_EQ(got, (std::vector<std::string>{"one", "two", "three"}));
}

// --- send -----------------------------------------------------------------------------------

TEST_P(IoHandle, SendOfThreeBuffersArrivesInOrderAndReportsTheByteCount) {
  auto [a, b] = socket_pair();
  ASSERT_TRUE(a.set_non_blocking(true));
  const std::string one = "alpha ", two = "beta ", three = "gamma";
  const std::array<Bytes, 3> buffers = {test::bytes_of(one), test::bytes_of(two), test::bytes_of(three)};
  std::optional<Result<std::size_t>> result;
  {
    auto h = watch(a.native_handle());
    h.send(buffers, [&](Result<std::size_t> n) { result = n; });
    EXPECT_TRUE(test::run_until(loop(), [&] { return result.has_value(); }));
  }
  ASSERT_TRUE(result.has_value());
  ASSERT_TRUE(*result) << result->error().message();
  EXPECT_EQ(**result, 16u);
  std::array<std::byte, 16> got{};
  ASSERT_TRUE(b.recv_exact(got, 5s));
  EXPECT_EQ(test::string_of(got), "alpha beta gamma");
}

TEST_P(IoHandle, APartialSendIsReportedHonestlyAndTheRestArrivesOnceThePeerReads) {
  auto [a, b] = socket_pair();
  ASSERT_TRUE(a.set_non_blocking(true));
  constexpr std::size_t kSize = 4u << 20;  // far more than a socketpair buffers
  const auto data = test::random_bytes(kSize, 11);
  std::size_t sent = 0;
  int callbacks = 0;
  std::vector<std::size_t> reports;
  std::optional<std::error_code> error;
  std::array<Bytes, 1> pending{};
  auto h = watch(a.native_handle());
  std::function<void()> send_rest = [&] {
    pending[0] = Bytes(data).subspan(sent);
    const std::size_t asked = pending[0].size();
    h.send(pending, [&, asked](Result<std::size_t> n) {
      ++callbacks;
      if (!n) {
        error = n.error();
        return;
      }
      EXPECT_GT(*n, 0u);
      EXPECT_LE(*n, asked);
      reports.push_back(*n);
      sent += *n;
      if (sent < kSize) send_rest();
    });
  };
  send_rest();

  // Phase 1: the peer does not read. Whatever is reported must be what the kernel
  // took, which cannot be all 4 MiB.
  test::run_for(loop(), 200ms);
  ASSERT_FALSE(error) << error->message();
  EXPECT_LT(sent, kSize) << "the send claimed all 4 MiB while the peer read nothing";
  EXPECT_EQ(static_cast<std::size_t>(queued_bytes(b.native_handle())), sent)
      << "bytes reported sent differ from the bytes waiting at the peer";

  // Phase 2: the peer reads everything; sending the remainder completes.
  std::vector<std::byte> received(kSize);
  bool read_ok = false;
  bool eof_after = false;
  std::thread reader([&] {
    read_ok = static_cast<bool>(b.recv_exact(received, 30s));
    std::array<std::byte, 1> extra{};
    auto n = b.recv_some(extra, 10s);
    eof_after = n && *n == 0;
  });
  EXPECT_TRUE(test::run_until(
      loop(), [&] { return sent == kSize || error; }, 30s))
      << sent << " of " << kSize << " sent";
  h.reset();
  EXPECT_TRUE(a.shutdown(ShutdownHow::write));  // ends the reader's wait if bytes are missing
  reader.join();
  ASSERT_FALSE(error) << error->message();
  EXPECT_TRUE(read_ok);
  EXPECT_TRUE(eof_after) << "more bytes arrived than were reported sent";
  EXPECT_EQ(test::checksum(received), test::checksum(data));
  EXPECT_GE(callbacks, 2);
}

TEST_P(IoHandle, SendToAPeerThatClosedReportsAnErrorNotASignal) {
  auto [a, b] = socket_pair();
  ASSERT_TRUE(a.set_non_blocking(true));
  b.close();
  const std::string text = "into the void";
  const std::array<Bytes, 1> buffers = {test::bytes_of(text)};
  std::optional<Result<std::size_t>> result;
  {
    auto h = watch(a.native_handle());
    h.send(buffers, [&](Result<std::size_t> n) { result = n; });
    EXPECT_TRUE(test::run_until(loop(), [&] { return result.has_value(); }));
  }
  ASSERT_TRUE(result.has_value());
  ASSERT_FALSE(*result) << "sent " << **result << " bytes to a closed peer";
  EXPECT_EQ(result->error(), std::errc::broken_pipe) << result->error().message();
}

TEST_P(IoHandle, DestroyingAHandleWithASendInFlightSendsNothingMoreFromItsBuffers) {
  // Once the IoHandle is gone its pending send's callback never runs, so the caller
  // may reuse or free the buffers: no byte of them may reach the peer afterwards.
  auto [a, b] = socket_pair();
  ASSERT_TRUE(a.set_non_blocking(true));
  std::size_t prefill = 0;
  const std::array<char, 4096> filler = [] {
    std::array<char, 4096> f{};
    f.fill('P');
    return f;
  }();
  for (;;) {
    const ssize_t n = ::send(a.native_handle(), filler.data(), filler.size(), MSG_NOSIGNAL);
    if (n <= 0) break;
    prefill += static_cast<std::size_t>(n);
  }
  ASSERT_GT(prefill, 0u);
  std::vector<char> payload(64 * 1024, 'X');
  const std::array<Bytes, 1> buffers = {std::as_bytes(std::span(payload))};
  int callbacks = 0;
  {
    auto h = watch(a.native_handle());
    h.send(buffers, [&](Result<std::size_t>) { ++callbacks; });
    test::run_for(loop(), 30ms);  // the send is now waiting for room at the peer
  }
  std::fill(payload.begin(), payload.end(), 'Y');  // the caller reuses its buffer
  ASSERT_TRUE(b.set_non_blocking(true));
  std::size_t p = 0, x = 0, y = 0;
  std::array<char, 4096> in{};
  const auto until = Clock::now() + 200ms;
  while (Clock::now() < until) {
    const ssize_t n = ::recv(b.native_handle(), in.data(), in.size(), 0);
    for (ssize_t i = 0; i < n; ++i) (in[i] == 'P' ? p : in[i] == 'X' ? x : y)++;
    ASSERT_TRUE(loop().run_once(n > 0 ? 0ms : 5ms));
  }
  EXPECT_EQ(callbacks, 0) << "the send's callback ran although its handle was destroyed";
  EXPECT_EQ(p, prefill);
  EXPECT_EQ(y, 0u) << "the destroyed handle's send read its buffer after the handle was gone";
  EXPECT_EQ(x, 0u) << "the destroyed handle's send went on sending";
}

// --- pause / resume -------------------------------------------------------------------------

TEST_P(IoHandle, PauseReceiveStopsCallbacksWhileDataWaitsAndResumeDeliversIt) {
  auto [a, b] = socket_pair();
  ASSERT_TRUE(a.set_non_blocking(true));
  std::string got;
  {
    auto h = watch(a.native_handle());
    h.receive([&](Result<Bytes> chunk) {
      ASSERT_TRUE(chunk) << chunk.error().message();
      got += test::string_of(*chunk);
    });
    h.pause_receive();
    test::run_for(loop(), 10ms);  // let the pause reach the kernel side
    ASSERT_TRUE(b.send_all(std::string_view("waiting"), 5s));
    test::run_for(loop(), 100ms);
    EXPECT_EQ(got, "") << "a paused receive delivered data";
    EXPECT_EQ(queued_bytes(a.native_handle()), 7) << "a paused receive read data from the kernel";
    h.resume_receive();
    EXPECT_TRUE(test::run_until(loop(), [&] { return got.size() >= 7; }));
  }
  EXPECT_EQ(got, "waiting");
}

TEST_P(IoHandle, PausingInsideTheReceiveCallbackHoldsBackTheNextChunk) {
  auto [a, b] = socket_pair();
  ASSERT_TRUE(a.set_non_blocking(true));
  std::vector<std::string> chunks;
  {
    auto h = watch(a.native_handle());
    h.receive([&](Result<Bytes> chunk) {
      ASSERT_TRUE(chunk) << chunk.error().message();
      chunks.push_back(test::string_of(*chunk));
      h.pause_receive();
    });
    ASSERT_TRUE(b.send_all(std::string_view("first"), 5s));
    ASSERT_TRUE(test::run_until(loop(), [&] { return !chunks.empty(); }));
    test::run_for(loop(), 10ms);
    ASSERT_TRUE(b.send_all(std::string_view("second"), 5s));
    test::run_for(loop(), 100ms);
    EXPECT_EQ(chunks.size(), 1u) << "a receive paused in its callback delivered more";
    EXPECT_EQ(queued_bytes(a.native_handle()), 6) << "a paused receive read data from the kernel";
    h.resume_receive();
    EXPECT_TRUE(test::run_until(loop(), [&] { return chunks.size() >= 2; }));
  }
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[0], "first");
  EXPECT_EQ(chunks[1], "second");
}

INSTANTIATE_TEST_SUITE_P(Backends, IoHandle, ::testing::ValuesIn(test::backends_under_test()),
                         test::backend_param_name);

}  // namespace
}  // namespace sockit
