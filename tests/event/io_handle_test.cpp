// IoHandle conformance, once per backend: multishot accept, receive (large bursts,
// edge-triggered draining, end of stream, resets), gather and partial sends,
// pause/resume backpressure, destroying handles from callbacks, connect, and the
// rule that a callback never runs inside the call that started its operation.
//
// Sockets are declared before the IoHandles that watch them, so every handle is
// destroyed (unregistered) before its descriptor closes.
#include "sockit/event/io_handle.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "sockit/event/event_loop.hpp"
#include "sockit/sockit.hpp"
#include "support/bytes.hpp"
#include "support/connected.hpp"
#include "support/loop_helpers.hpp"
#include "support/temp_dir.hpp"

namespace sockit {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Bytes = std::span<const std::byte>;

class IoHandle : public test::LoopTest {
 protected:
  // Registers `fd` (which must already be non-blocking) or fails the test.
  event::IoHandle watch(int fd) {
    auto handle = loop().watch(fd);
    EXPECT_TRUE(handle) << handle.error().message();
    return handle ? std::move(*handle) : event::IoHandle();
  }
};

std::pair<StreamSocket, StreamSocket> socket_pair() {
  auto pair = stream_socket_pair();
  if (!pair) throw std::runtime_error("socketpair: " + pair.error().message());
  return std::move(*pair);
}

// Writes into `socket` (made non-blocking for the purpose) until the kernel
// refuses more; returns the bytes written. The bytes are `data` repeated.
std::size_t fill_until_full(StreamSocket& socket, std::vector<std::byte>& sent) {
  EXPECT_TRUE(socket.set_non_blocking(true));
  std::array<std::byte, 4096> block{};
  std::size_t total = 0;
  for (;;) {
    for (std::size_t i = 0; i < block.size(); ++i) block[i] = static_cast<std::byte>((total + i) * 31 % 251);
    const ssize_t n = ::send(socket.native_handle(), block.data(), block.size(), MSG_NOSIGNAL);
    if (n <= 0) break;
    sent.insert(sent.end(), block.begin(), block.begin() + n);
    total += static_cast<std::size_t>(n);
  }
  EXPECT_TRUE(socket.set_non_blocking(false));
  return total;
}

int queued_bytes(int fd) {
  int n = -1;
  ::ioctl(fd, FIONREAD, &n);
  return n;
}

Endpoint endpoint_of(const Address& address) {
  auto endpoints = address.resolve();
  if (!endpoints || endpoints->empty()) throw std::runtime_error("resolve " + address.to_string());
  return endpoints->front();
}

Fd tcp_socket_nonblocking() { return Fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)); }

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
  // Also the edge-triggered case: with epoll-et the engine must read until EAGAIN
  // on every notification, or the tail of the burst is never delivered.
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

// --- destroying handles from callbacks ------------------------------------------------------

TEST_P(IoHandle, DestroyingAHandleInsideItsOwnReceiveCallbackStopsAllCallbacks) {
  auto [a, b] = socket_pair();
  std::vector<std::byte> sent;
  fill_until_full(b, sent);  // many chunks' worth, all ready in the same turn
  ASSERT_TRUE(b.shutdown(ShutdownHow::write));
  ASSERT_TRUE(a.set_non_blocking(true));
  int calls = 0;
  const auto base = loop().stats().registered;
  std::optional<event::IoHandle> h = watch(a.native_handle());
  h->receive([&](Result<Bytes>) {
    ++calls;
    h.reset();  // destroys the IoHandle whose callback is running
  });
  EXPECT_TRUE(test::run_until(loop(), [&] { return calls > 0; }));
  test::run_for(loop(), 100ms);
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(h.has_value());
  EXPECT_EQ(loop().stats().registered, base);

  // The loop carries on normally afterwards.
  auto [c, d] = socket_pair();
  ASSERT_TRUE(c.set_non_blocking(true));
  std::string got;
  auto h2 = watch(c.native_handle());
  h2.receive([&](Result<Bytes> chunk) {
    if (chunk) got += test::string_of(*chunk);
  });
  ASSERT_TRUE(d.send_all(std::string_view("after"), 5s));
  EXPECT_TRUE(test::run_until(loop(), [&] { return got == "after"; })) << got;
}

TEST_P(IoHandle, DestroyingAnotherHandleFromACallbackDropsItsPendingCompletion) {
  auto [a1, a2] = socket_pair();
  auto [b1, b2] = socket_pair();
  auto [c1, c2] = socket_pair();  // takes the destroyed handle's slot; never has data
  for (auto* s : {&a1, &b1, &c1}) ASSERT_TRUE(s->set_non_blocking(true));
  int a_calls = 0, b_calls = 0, c_calls = 0;
  std::optional<event::IoHandle> ha = watch(a1.native_handle());
  std::optional<event::IoHandle> hb = watch(b1.native_handle());
  std::optional<event::IoHandle> hc;
  auto replace = [&](std::optional<event::IoHandle>& victim) {
    victim.reset();
    // A new registration right away is likely to reuse the victim's slot: the
    // victim's pending completion must not reach it.
    hc = watch(c1.native_handle());
    hc->receive([&](Result<Bytes>) { ++c_calls; });
  };
  ha->receive([&](Result<Bytes>) {
    if (++a_calls == 1) replace(hb);
  });
  hb->receive([&](Result<Bytes>) {
    if (++b_calls == 1) replace(ha);
  });
  // Both readable before the loop turns, so both complete in the same turn.
  ASSERT_TRUE(a2.send_all(std::string_view("a"), 5s));
  ASSERT_TRUE(b2.send_all(std::string_view("b"), 5s));
  EXPECT_TRUE(test::run_until(loop(), [&] { return a_calls + b_calls > 0; }));
  test::run_for(loop(), 100ms);
  EXPECT_EQ(a_calls + b_calls, 1) << "a: " << a_calls << " b: " << b_calls;
  EXPECT_EQ(c_calls, 0) << "a destroyed handle's completion reached the handle that replaced it";
  hc.reset();
  ha.reset();
  hb.reset();
}

TEST_P(IoHandle, RegisteredCountsLiveHandles) {
  auto [a, b] = socket_pair();
  ASSERT_TRUE(a.set_non_blocking(true));
  ASSERT_TRUE(b.set_non_blocking(true));
  const auto base = loop().stats().registered;
  {
    auto ha = watch(a.native_handle());
    auto hb = watch(b.native_handle());
    EXPECT_EQ(loop().stats().registered, base + 2);
    hb.reset();
    EXPECT_FALSE(hb.valid());
    EXPECT_EQ(loop().stats().registered, base + 1);
    event::IoHandle moved = std::move(ha);
    EXPECT_FALSE(ha.valid());
    EXPECT_TRUE(moved.valid());
    EXPECT_EQ(moved.fd(), a.native_handle());
    EXPECT_EQ(loop().stats().registered, base + 1);
  }
  EXPECT_EQ(loop().stats().registered, base);
}

TEST_P(IoHandle, CompletionsDroppedAfterDestroyDoNotExhaustReceiveBuffers) {
  // A small provided-buffer ring (io_uring): buffers of completions dropped because
  // their handle is gone must go back to the ring, or later receives starve.
  auto small = test::make_loop_or_skip(
      {.backend = GetParam(), .receive_buffer_size = 4096, .receive_buffer_count = 4});
  if (!small) return;
  for (int round = 0; round < 30; ++round) {
    auto [a, b] = socket_pair();
    std::vector<std::byte> sent;
    fill_until_full(b, sent);
    ASSERT_TRUE(a.set_non_blocking(true));
    int calls = 0;
    std::optional<event::IoHandle> h;
    {
      auto r = small->watch(a.native_handle());
      ASSERT_TRUE(r) << r.error().message();
      h = std::move(*r);
    }
    h->receive([&](Result<Bytes>) {
      ++calls;
      h.reset();
    });
    ASSERT_TRUE(test::run_until(*small, [&] { return calls > 0; })) << "round " << round;
    test::run_for(*small, 5ms);
  }
  // And a full transfer through the same small ring still arrives intact.
  auto [a, b] = socket_pair();
  ASSERT_TRUE(a.set_non_blocking(true));
  std::vector<std::byte> sent;
  const std::size_t queued = fill_until_full(b, sent);
  ASSERT_TRUE(b.shutdown(ShutdownHow::write));
  std::size_t got = 0;
  bool eof = false;
  std::optional<std::error_code> error;
  {
    auto r = small->watch(a.native_handle());
    ASSERT_TRUE(r) << r.error().message();
    event::IoHandle h = std::move(*r);
    h.receive([&](Result<Bytes> chunk) {
      if (!chunk)
        error = chunk.error();
      else if (chunk->empty())
        eof = true;
      else
        got += chunk->size();
    });
    EXPECT_TRUE(test::run_until(*small, [&] { return eof || error; })) << got << " of " << queued << " bytes";
  }
  EXPECT_FALSE(error) << error->message();
  EXPECT_EQ(got, queued);
}

TEST_P(IoHandle, ASmallReceiveBufferPoolStillDeliversAOneMiBBurst) {
  // io_uring's provided-buffer ring runs dry under a burst (ENOBUFS ends a
  // multishot receive): the engine must re-arm, not report an error or stall.
  auto small = test::make_loop_or_skip(
      {.backend = GetParam(), .receive_buffer_size = 4096, .receive_buffer_count = 2});
  if (!small) return;
  auto [client, server] = test::connected_pair("tcp://127.0.0.1:0");
  ASSERT_TRUE(server.set_non_blocking(true));
  constexpr std::size_t kSize = 1u << 20;
  const auto data = test::random_bytes(kSize, 3);
  std::uint64_t sum = test::checksum({});
  std::size_t got = 0;
  bool eof = false;
  std::optional<std::error_code> error;
  {
    auto r = small->watch(server.native_handle());
    ASSERT_TRUE(r) << r.error().message();
    event::IoHandle h = std::move(*r);
    std::thread sender([&client, &data] {
      EXPECT_TRUE(client.send_all(data, 20s));
      EXPECT_TRUE(client.shutdown(ShutdownHow::write));
    });
    h.receive([&](Result<Bytes> chunk) {
      if (!chunk)
        error = chunk.error();
      else if (chunk->empty())
        eof = true;
      else {
        EXPECT_LE(chunk->size(), 4096u);
        got += chunk->size();
        sum = test::checksum(*chunk, sum);
      }
    });
    EXPECT_TRUE(test::run_until(
        *small, [&] { return eof || error; }, 20s))
        << got << " of " << kSize;
    h.reset();
    server.close();  // unblocks a sender still waiting if the receive stopped early
    sender.join();
  }
  EXPECT_FALSE(error) << error->message();
  EXPECT_EQ(got, kSize);
  EXPECT_EQ(sum, test::checksum(data));
}

// --- connect --------------------------------------------------------------------------------

TEST_P(IoHandle, ConnectToAListeningSocketCompletesWithSuccess) {
  auto listener = listen(*Address::parse("tcp://127.0.0.1:0"));
  ASSERT_TRUE(listener) << listener.error().message();
  Fd fd = tcp_socket_nonblocking();
  ASSERT_TRUE(fd);
  std::optional<Status> result;
  {
    auto h = watch(fd.get());
    h.connect(endpoint_of(*listener->local_address()), [&](Status s) { result = s; });
    EXPECT_TRUE(test::run_until(loop(), [&] { return result.has_value(); }));
  }
  ASSERT_TRUE(result.has_value());
  EXPECT_TRUE(*result) << result->error().message();
  auto server = listener->accept(5s);
  ASSERT_TRUE(server) << server.error().message();
  // The connection works: a byte from the accepted end reaches our socket.
  ASSERT_TRUE(server->send_all(std::string_view("k"), 5s));
  std::array<char, 1> b{};
  const auto until = Clock::now() + 5s;
  ssize_t n = -1;
  while (n != 1 && Clock::now() < until) {
    n = ::recv(fd.get(), b.data(), 1, 0);
    if (n != 1) std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(n, 1);
}

TEST_P(IoHandle, ConnectToAPortNobodyListensOnFailsWithConnectionRefused) {
  // A bound socket that does not listen owns the port (nobody else can take it)
  // and answers SYN with RST.
  Fd holder(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(holder);
  Endpoint target;
  auto* in = reinterpret_cast<sockaddr_in*>(&target.storage);
  in->sin_family = AF_INET;
  in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  in->sin_port = 0;
  target.length = sizeof(sockaddr_in);
  ASSERT_EQ(::bind(holder.get(), target.get(), target.length), 0);
  ASSERT_EQ(::getsockname(holder.get(), target.get(), &target.length), 0);

  Fd fd = tcp_socket_nonblocking();
  ASSERT_TRUE(fd);
  std::optional<Status> result;
  {
    auto h = watch(fd.get());
    h.connect(target, [&](Status s) { result = s; });
    EXPECT_TRUE(test::run_until(loop(), [&] { return result.has_value(); }));
  }
  ASSERT_TRUE(result.has_value());
  ASSERT_FALSE(*result) << "connected to a port nobody listens on";
  EXPECT_EQ(result->error(), std::errc::connection_refused) << result->error().message();
}

TEST_P(IoHandle, ConnectToAUnixPathCompletes) {
  test::TempDir dir;
  auto listener = listen(*Address::parse("unix:" + dir.file("c.sock")));
  ASSERT_TRUE(listener) << listener.error().message();
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(fd);
  std::optional<Status> result;
  {
    auto h = watch(fd.get());
    h.connect(endpoint_of(*listener->local_address()), [&](Status s) { result = s; });
    EXPECT_TRUE(test::run_until(loop(), [&] { return result.has_value(); }));
  }
  ASSERT_TRUE(result.has_value());
  EXPECT_TRUE(*result) << result->error().message();
  EXPECT_TRUE(listener->accept(5s));
}

// --- callbacks are never re-entrant ---------------------------------------------------------

TEST_P(IoHandle, CallbacksNeverRunInsideTheCallThatStartedTheOperation) {
  // Every operation is started when it could complete at once (a connection
  // waiting in the backlog, data queued, an empty send buffer, a Unix connect the
  // kernel finishes synchronously): the callback must still wait for a loop turn.
  test::TempDir dir;
  auto listener = listen(*Address::parse("unix:" + dir.file("r.sock")));
  ASSERT_TRUE(listener) << listener.error().message();
  ASSERT_TRUE(listener->set_non_blocking(true));
  auto waiting_client = connect(*listener->local_address(), 5s);
  ASSERT_TRUE(waiting_client);
  auto [a, b] = socket_pair();
  ASSERT_TRUE(a.set_non_blocking(true));
  ASSERT_TRUE(b.send_all(std::string_view("ready"), 5s));
  auto [s1, s2] = socket_pair();
  ASSERT_TRUE(s1.set_non_blocking(true));
  Fd unix_client(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(unix_client);
  std::vector<Fd> accepted;

  bool in_call = false;
  int inside = 0;
  int done = 0;
  auto check = [&] {
    if (in_call) ++inside;
    ++done;
  };
  const std::string text = "x";
  const std::array<Bytes, 1> buffers = {test::bytes_of(text)};
  {
    auto h_accept = watch(listener->native_handle());
    auto h_receive = watch(a.native_handle());
    auto h_send = watch(s1.native_handle());
    auto h_connect = watch(unix_client.get());
    bool accepted_once = false, received_once = false;

    in_call = true;
    h_accept.accept([&](Result<Fd> fd) {
      if (fd) accepted.push_back(std::move(*fd));
      if (!std::exchange(accepted_once, true)) check();
    });
    in_call = false;

    in_call = true;
    h_receive.receive([&](Result<Bytes>) {
      if (!std::exchange(received_once, true)) check();
    });
    in_call = false;

    in_call = true;
    h_send.send(buffers, [&](Result<std::size_t>) { check(); });
    in_call = false;

    in_call = true;
    h_connect.connect(endpoint_of(*listener->local_address()), [&](Status) { check(); });
    in_call = false;

    EXPECT_EQ(done, 0) << "a callback ran before the loop turned";
    EXPECT_TRUE(test::run_until(loop(), [&] { return done == 4; })) << done << " of 4 completed";
    test::run_for(loop(), 20ms);  // let the connect's accept land too
  }
  EXPECT_EQ(inside, 0) << inside << " callbacks ran inside the call that started them";
}

INSTANTIATE_TEST_SUITE_P(Backends, IoHandle, ::testing::ValuesIn(test::backends_under_test()),
                         test::backend_param_name);

}  // namespace
}  // namespace sockit
