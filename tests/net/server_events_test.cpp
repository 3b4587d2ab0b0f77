// Server::on_event (one event per accept, refusal and close, with the peer and the
// connection's traffic), the reuseport group that a second server cannot join,
// and select's descriptor limit (the cap lowered, the excess refused).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/select.h>
#include <unistd.h>

#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "sockit/net/server.hpp"
#include "sockit/sockit.hpp"
#include "support/bytes.hpp"
#include "support/temp_dir.hpp"

namespace sockit::net {
namespace {

using namespace std::chrono_literals;
using Kind = ServerEvent::Kind;

// Events from the worker threads, kept for the test thread to read.
struct Recorder {
  std::mutex mutex;
  std::vector<ServerEvent> events;

  std::function<void(const ServerEvent&)> hook() {
    return [this](const ServerEvent& e) {
      std::lock_guard lock(mutex);
      events.push_back(e);
    };
  }
  std::vector<ServerEvent> snapshot() {
    std::lock_guard lock(mutex);
    return events;
  }
  bool wait_for(std::size_t count, std::chrono::milliseconds limit = 5s) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
      if (snapshot().size() >= count) return true;
      std::this_thread::sleep_for(2ms);
    }
    return false;
  }
};

std::unique_ptr<Server> echo_server(const std::string& address, ServerOptions options) {
  auto server = Server::create(*Address::parse(address), std::move(options), [](Connection& c) {
    c.on_message([](Connection& self, std::span<const std::byte> data) { (void)self.send(data); });
  });
  if (!server || !(*server)->start()) return nullptr;
  return std::move(*server);
}

void echo_once(const Address& address, std::string_view text) {
  auto client = connect(address, 2s);
  ASSERT_TRUE(client) << client.error().message();
  ASSERT_TRUE(client->send_all(test::bytes_of(text), 2s));
  std::vector<std::byte> back(text.size());
  ASSERT_TRUE(client->recv_exact(back, 2s));
  EXPECT_EQ(test::string_of(back), text);
}

TEST(ServerEvents, ReportsAcceptAndCloseWithThePeerAndItsTraffic) {
  Recorder recorder;
  ServerOptions options;
  options.on_event = recorder.hook();
  auto server = echo_server("tcp://127.0.0.1:0", options);
  ASSERT_TRUE(server);
  {
    auto client = connect(server->local_address(), 2s);
    ASSERT_TRUE(client);
    const Address mine = *client->local_address();
    ASSERT_TRUE(client->send_all(test::bytes_of("hello"), 2s));
    std::vector<std::byte> back(5);
    ASSERT_TRUE(client->recv_exact(back, 2s));
    ASSERT_TRUE(recorder.wait_for(1));
    const ServerEvent accepted = recorder.snapshot().front();
    EXPECT_EQ(accepted.kind, Kind::accepted);
    EXPECT_EQ(accepted.id, 1u);
    EXPECT_EQ(accepted.peer.to_string(), mine.to_string());
    EXPECT_FALSE(accepted.credentials);  // TCP has none
  }
  ASSERT_TRUE(recorder.wait_for(2));
  const ServerEvent closed = recorder.snapshot()[1];
  EXPECT_EQ(closed.kind, Kind::closed);
  EXPECT_EQ(closed.id, 1u);
  EXPECT_EQ(closed.close, ServerEvent::Close::by_peer);
  EXPECT_FALSE(closed.error);
  EXPECT_EQ(closed.bytes_in, 5u);
  EXPECT_EQ(closed.bytes_out, 5u);
  server->shutdown(1s);
}

TEST(ServerEvents, ReportsUnixPeerCredentialsAndRefusals) {
  test::TempDir dir;
  Recorder recorder;
  ServerOptions options;
  options.max_connections = 1;
  options.on_event = recorder.hook();
  auto server = echo_server("unix:" + dir.file("events.sock"), options);
  ASSERT_TRUE(server);
  auto first = connect(server->local_address(), 2s);
  ASSERT_TRUE(first);
  ASSERT_TRUE(recorder.wait_for(1));
  auto second = connect(server->local_address(), 2s);  // over max_connections: closed at once
  ASSERT_TRUE(second);
  ASSERT_TRUE(recorder.wait_for(2));
  const auto events = recorder.snapshot();
  EXPECT_EQ(events[0].kind, Kind::accepted);
  ASSERT_TRUE(events[0].credentials);
  EXPECT_EQ(events[0].credentials->pid, ::getpid());
  EXPECT_EQ(events[0].credentials->uid, ::getuid());
  EXPECT_TRUE(events[0].peer.is_unnamed());
  EXPECT_EQ(events[1].kind, Kind::refused_max_connections);
  EXPECT_EQ(events[1].id, 0u);
  ASSERT_TRUE(events[1].credentials);
  EXPECT_EQ(events[1].credentials->pid, ::getpid());
  server->shutdown(1s);
}

TEST(ServerEvents, ReportsIdleTimeoutAndFrameTooLarge) {
  Recorder recorder;
  ServerOptions options;
  options.idle_timeout = 100ms;
  options.connection.framing = Framing::line();
  options.connection.framing.max_frame = 4;
  options.on_event = recorder.hook();
  auto server = echo_server("tcp://127.0.0.1:0", options);
  ASSERT_TRUE(server);
  auto quiet = connect(server->local_address(), 2s);
  ASSERT_TRUE(quiet);
  auto big = connect(server->local_address(), 2s);
  ASSERT_TRUE(big);
  ASSERT_TRUE(big->send_all(test::bytes_of("far too long\n"), 2s));
  ASSERT_TRUE(recorder.wait_for(4));
  bool saw_idle = false;
  bool saw_frame = false;
  for (const ServerEvent& e : recorder.snapshot()) {
    if (e.kind != Kind::closed) continue;
    if (e.close == ServerEvent::Close::idle_timeout) saw_idle = true;
    if (e.close == ServerEvent::Close::protocol_error) {
      saw_frame = true;
      EXPECT_EQ(e.error, make_error_code(errc::frame_too_large));
    }
  }
  EXPECT_TRUE(saw_idle);
  EXPECT_TRUE(saw_frame);
  server->shutdown(1s);
}

// Issue 10, bug 1: a second server with several workers on a port that one
// already serves must fail with address_in_use, not join its reuseport group.
TEST(ServerReusePort, ASecondMultiWorkerServerCannotJoinTheFirstsPort) {
  ServerOptions options;
  options.threads = 2;
  auto first = echo_server("tcp://127.0.0.1:0", options);
  ASSERT_TRUE(first);
  for (unsigned threads : {1u, 2u, 4u}) {
    ServerOptions again;
    again.threads = threads;
    auto second = Server::create(first->local_address(), again, nullptr);
    ASSERT_FALSE(second) << threads << " threads joined the port";
    EXPECT_EQ(second.error(), std::errc::address_in_use) << second.error().message();
  }
  // The first still spreads clients over both its workers and answers every one.
  for (int i = 0; i < 16; ++i) echo_once(first->local_address(), "client " + std::to_string(i));
  EXPECT_EQ(first->stats().accepted, 16u);
  first->shutdown(1s);
  // Once it is gone the port is free again, for several workers too.
  auto later = echo_server(first->local_address().to_string(), options);
  EXPECT_TRUE(later);
}

// Issue 10, bug 5: select cannot watch a descriptor at or above FD_SETSIZE. The
// cap is lowered to the free numbers below it, and a connection whose descriptor
// still lands past it is refused (as over max_connections), not admitted and
// closed as an error.
TEST(ServerSelectLimit, LowersTheCapAndRefusesDescriptorsSelectCannotWatch) {
  Recorder recorder;
  ServerOptions options;
  options.backend = "select";
  options.max_connections = 100000;
  options.on_event = recorder.hook();
  auto server = echo_server("tcp://127.0.0.1:0", options);
  ASSERT_TRUE(server);
  EXPECT_LT(server->max_connections(), static_cast<std::size_t>(FD_SETSIZE));
  EXPECT_GT(server->max_connections(), static_cast<std::size_t>(FD_SETSIZE) - 64);

  // Take every descriptor number below FD_SETSIZE, so the next accept gets one above.
  std::vector<int> fillers;
  for (;;) {
    const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0) << "RLIMIT_NOFILE too low for this test";
    fillers.push_back(fd);
    if (fd >= FD_SETSIZE + 4) break;
  }
  // Free none below FD_SETSIZE: the server's accept gets a number past it.
  {
    auto client = connect(server->local_address(), 2s);
    ASSERT_TRUE(client);
    ASSERT_TRUE(recorder.wait_for(1));
  }
  for (int fd : fillers) ::close(fd);
  const auto events = recorder.snapshot();
  EXPECT_EQ(events.front().kind, Kind::refused_max_connections);
  const ServerStats stats = server->stats();
  EXPECT_EQ(stats.refused_max_connections, 1u);
  EXPECT_EQ(stats.accepted, 0u);
  EXPECT_EQ(stats.closed_by_error, 0u);
  // Descriptors free again: served as usual.
  echo_once(server->local_address(), "after");
  server->shutdown(1s);
}

}  // namespace
}  // namespace sockit::net
