// IoHandle conformance, once per backend: destroying handles from callbacks,
// buffer pools, connect, and the rule that a callback never runs inside the call
// that started its operation.
#include <cerrno>
#include <cstring>

#include "event/io_handle_fixture.hpp"

namespace sockit {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Bytes = std::span<const std::byte>;

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

TEST_P(IoHandle, ConnectToAUnixListenerWithAFullBacklogFailsAndNeverClaimsSuccess) {
  // A Unix listener that never accepts: once its backlog is full a non-blocking
  // connect says EAGAIN and nothing is in progress. The socket then polls writable
  // with SO_ERROR 0, which must not be mistaken for a connection.
  test::TempDir dir;
  ListenOptions options;
  options.backlog = 1;
  auto listener = listen(*Address::parse("unix:" + dir.file("full.sock")), options);
  ASSERT_TRUE(listener) << listener.error().message();
  const Endpoint target = endpoint_of(*listener->local_address());
  std::vector<Fd> fillers;
  for (int i = 0; i < 64; ++i) {
    Fd f(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    ASSERT_TRUE(f);
    if (::connect(f.get(), target.get(), target.length) != 0) {
      ASSERT_EQ(errno, EAGAIN) << "filling the backlog: " << std::strerror(errno);
      break;
    }
    fillers.push_back(std::move(f));
  }
  ASSERT_LT(fillers.size(), 64u) << "the backlog never filled";

  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(fd);
  std::optional<Status> result;
  {
    auto h = watch(fd.get());
    h.connect(target, [&](Status s) { result = s; });
    EXPECT_TRUE(test::run_until(loop(), [&] { return result.has_value(); }));
  }
  ASSERT_TRUE(result.has_value());
  ASSERT_FALSE(*result) << "reported connected while the backlog was full";
  EXPECT_EQ(result->error(), std::errc::resource_unavailable_try_again) << result->error().message();
  sockaddr_storage peer{};
  socklen_t peer_length = sizeof(peer);
  EXPECT_NE(::getpeername(fd.get(), reinterpret_cast<sockaddr*>(&peer), &peer_length), 0);
}

TEST(IoHandleMisuse, AnOperationOnAHandleWithNoLoopAbortsWithAMessage) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  event::IoHandle empty;
  EXPECT_DEATH(empty.receive([](Result<std::span<const std::byte>>) {}), "IoHandle::receive on a handle with no loop");
  EXPECT_DEATH(empty.pause_receive(), "IoHandle::pause_receive on a handle with no loop");
  EXPECT_DEATH(empty.wait_writable([](Status) {}), "IoHandle::wait_writable on a handle with no loop");
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
