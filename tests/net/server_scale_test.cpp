// The server at the scale, on every backend, over TCP loopback and a Unix
// path: 10,000 connections open at the same time, each echoing length-prefixed
// frames of random sizes, every byte verified. The clients run in a child process
// (tests/support/echo_load: raw sockets and epoll, not sockit's loop), so the
// server's process holds only its own descriptors, as in production.
//
// The child makes every connection before sending anything and keeps them all
// open until every frame of every connection is verified; at both moments it
// stops and waits for this process to look at the server's stats, so the test
// sees all of them open on the server's side too, not only on the clients'.
//
// Fewer connections only where the machine forbids them, with the reason printed
// (neither a skip nor a failure): select watches descriptors below FD_SETSIZE
// (1024) only, and RLIMIT_NOFILE's hard limit may be too low to raise without root.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <iostream>
#include <optional>
#include <span>
#include <string>
#include <thread>

#include "sockit/net/server.hpp"
#include "sockit/sockit.hpp"
#include "support/child.hpp"
#include "support/echo_load.hpp"
#include "support/loop_helpers.hpp"
#include "support/temp_dir.hpp"

namespace sockit::net {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kConnections = 10000;
// select's fd_set has FD_SETSIZE (1024) bits: the server's own descriptors
// (listeners, loops, the test's) must fit below it with these connections.
constexpr int kSelectConnections = 900;
// Descriptors each process needs besides one per connection: listeners, loops,
// wakeups, GoogleTest's, the child's epoll and the channel to it.
constexpr rlim_t kOwnDescriptors = 128;

// The same counts in every build. Unlike the load test (server_load_test.cpp,
// which cuts its counts tenfold under sanitizers), this one is bound by system
// calls, not by instrumented code: measured on 2 cores, a case takes at most
// 3.6 s in release, 3.3 s under ASan+UBSan and 6 s under TSan.
constexpr int kFrames = 10;
constexpr std::size_t kMaxPayload = 2000;
// A hang's bound, well under CTest's 120 s per test and far above the few seconds a case takes.
constexpr auto kTimeLimit = 100s;

// RLIMIT_NOFILE raised for one test and restored after it. The child inherits the
// limit, so both processes get room for one descriptor per connection.
class DescriptorLimit {
 public:
  DescriptorLimit() {
    rlimit now{};
    if (::getrlimit(RLIMIT_NOFILE, &now) == 0) saved_ = now;
  }
  ~DescriptorLimit() {
    if (saved_) ::setrlimit(RLIMIT_NOFILE, &*saved_);
  }
  DescriptorLimit(const DescriptorLimit&) = delete;
  DescriptorLimit& operator=(const DescriptorLimit&) = delete;

  // Raises the soft limit to `wanted`, and the hard one too where that is allowed
  // (root). Returns the limit now in force: below `wanted` only when the hard limit
  // is lower and cannot be raised; `why` then says so.
  rlim_t raise_to(rlim_t wanted, std::string& why) {
    if (!saved_) {
      why = "getrlimit(RLIMIT_NOFILE) failed: " + std::string(std::strerror(errno));
      return 0;
    }
    if (saved_->rlim_cur >= wanted) return saved_->rlim_cur;
    rlimit raised{wanted, std::max(wanted, saved_->rlim_max)};
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) return wanted;
    const std::string refused = std::strerror(errno);
    raised = {saved_->rlim_max, saved_->rlim_max};
    if (::setrlimit(RLIMIT_NOFILE, &raised) != 0) raised = *saved_;
    why = "RLIMIT_NOFILE hard limit is " + std::to_string(saved_->rlim_max) + " and raising it to " +
          std::to_string(wanted) + " was refused (" + refused + ")";
    return raised.rlim_cur;
  }

 private:
  std::optional<rlimit> saved_;
};

// What the child reports at each stop, and the byte that lets it go on.
struct Progress {
  std::uint64_t connections_open = 0;
  std::uint64_t frames_verified = 0;
  std::uint64_t bytes_verified = 0;
};

bool send_progress(StreamSocket& s, const test::EchoLoadResult& r, Deadline deadline) {
  const Progress p{static_cast<std::uint64_t>(r.connections_open), r.frames_verified, r.bytes_verified};
  return s.send_all(std::as_bytes(std::span(&p, 1)), deadline).has_value();
}

bool wait_to_go_on(StreamSocket& s, Deadline deadline) {
  std::byte go{};
  return s.recv_exact(std::span(&go, 1), deadline).has_value();
}

std::optional<Progress> receive_progress(StreamSocket& s, Deadline deadline) {
  Progress p;
  if (!s.recv_exact(std::as_writable_bytes(std::span(&p, 1)), deadline)) return std::nullopt;
  return p;
}

bool let_go_on(StreamSocket& s) {
  const std::byte go{1};
  return s.send_all(std::span(&go, 1), 5s).has_value();
}

// Waits for a condition on the server's stats (they move on its worker threads).
bool eventually(const std::function<bool()>& done, Clock::time_point until) {
  while (!done()) {
    if (Clock::now() > until) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

std::string describe(const ServerStats& s) {
  return "accepted " + std::to_string(s.accepted) + ", active " + std::to_string(s.active) + ", refused " +
         std::to_string(s.refused_max_connections) + " over max / " + std::to_string(s.refused_per_peer) +
         " per peer / " + std::to_string(s.refused_rate) + " rate / " + std::to_string(s.refused_policy) +
         " policy" + ", shed " + std::to_string(s.shed_no_descriptors) + ", closed by peer " +
         std::to_string(s.closed_by_peer) + " / error " + std::to_string(s.closed_by_error) + " / timeout " +
         std::to_string(s.closed_by_timeout) + ", messages in " + std::to_string(s.messages_in) + " out " +
         std::to_string(s.messages_out) + ", bytes in " + std::to_string(s.bytes_in) + " out " +
         std::to_string(s.bytes_out);
}

long long ms_since(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

class ServerAtScale : public test::LoopTest {
 protected:
  // How many connections this backend and this machine allow, the reason printed
  // and recorded when it is fewer than kConnections.
  int plan_connections() {
    int connections = kConnections;
    std::string why;
    if (GetParam() == "select") {
      connections = kSelectConnections;
      why = "select watches descriptors below FD_SETSIZE (1024) only";
    }
    std::string limited;
    const rlim_t allowed = limit_.raise_to(static_cast<rlim_t>(connections) + kOwnDescriptors, limited);
    if (allowed < static_cast<rlim_t>(connections) + kOwnDescriptors) {
      connections = allowed > kOwnDescriptors ? static_cast<int>(allowed - kOwnDescriptors) : 0;
      why = limited;
    }
    RecordProperty("connections", connections);
    if (!why.empty()) {
      RecordProperty("fewer_connections_because", why);
      std::cout << "[ reduced  ] " << connections << " connections instead of " << kConnections << ": " << why
                << std::endl;
    }
    return connections;
  }

  // The whole scenario against `address` (port 0 or a fresh path).
  void run_at_scale(const std::string& address) {
    const int connections = plan_connections();
    ASSERT_GT(connections, 0) << "no descriptors left for connections";
    const auto total_frames = std::uint64_t{static_cast<std::uint64_t>(connections)} * kFrames;

    ServerOptions options;
    options.backend = GetParam();
    options.threads = 2;            // TCP: two SO_REUSEPORT listeners; Unix: worker 0 hands out to worker 1
    options.listen.backlog = 4096;  // clamped to somaxconn
    options.connection.framing = Framing::length_prefix();
    auto created = Server::create(*Address::parse(address), options, [](Connection& c) {
      c.on_message([](Connection& self, std::span<const std::byte> m) { (void)self.send(m); });
    });
    ASSERT_TRUE(created) << created.error().message();
    Server& server = **created;
    auto channel = stream_socket_pair();
    ASSERT_TRUE(channel) << channel.error().message();
    StreamSocket& mine = channel->first;
    StreamSocket& theirs = channel->second;

    // Fork before the workers start: a child forked while other threads run may
    // inherit a lock one of them held (sanitizer allocators do not all guard fork).
    const auto started = Clock::now();
    const auto until = started + kTimeLimit;
    const Deadline deadline = Deadline::at(until);
    test::Child clients([&] {
      mine.close();
      test::EchoLoad load;
      load.connections = connections;
      load.frames_per_connection = kFrames;
      load.max_payload = kMaxPayload;
      load.window = 4;
      load.time_limit = kTimeLimit;
      load.connect_timeout = 30s;
      test::EchoLoadHooks hooks;
      hooks.all_connected = [&](const test::EchoLoadResult& r) {
        return send_progress(theirs, r, deadline) && wait_to_go_on(theirs, deadline);
      };
      hooks.all_verified = hooks.all_connected;
      const auto result = test::run_echo_load(server.local_address(), load, hooks);
      if (!result.error.empty()) std::fprintf(stderr, "echo load: %s\n", result.error.c_str());
      return result.error.empty() && result.frames_verified == total_frames ? 0 : 1;
    });
    theirs.close();
    ASSERT_TRUE(server.start());

    // 1. Every connection made: all of them open on the server's side at once.
    const auto connected = receive_progress(mine, deadline);
    ASSERT_TRUE(connected) << "the load child stopped before connecting (it says why on stderr); exit "
                           << clients.wait(5s);
    EXPECT_EQ(connected->connections_open, std::uint64_t(connections));
    EXPECT_TRUE(eventually([&] { return server.stats().accepted >= std::uint64_t(connections); }, until))
        << describe(server.stats());
    ServerStats s = server.stats();
    EXPECT_EQ(s.accepted, std::uint64_t(connections)) << describe(s);
    EXPECT_EQ(s.active, std::uint64_t(connections)) << describe(s);
    EXPECT_EQ(s.refused_max_connections + s.refused_per_peer + s.refused_rate + s.refused_policy, 0u);
    EXPECT_EQ(s.shed_no_descriptors, 0u);
    EXPECT_EQ(s.messages_in, 0u);
    const long long connect_ms = ms_since(started);
    ASSERT_TRUE(let_go_on(mine));

    // 2. Every frame echoed and verified, every connection still open.
    const auto echo_started = Clock::now();
    const auto verified = receive_progress(mine, deadline);
    ASSERT_TRUE(verified)
        << "the load child stopped before verifying every frame (it says why on stderr); exit "
        << clients.wait(5s);
    EXPECT_EQ(verified->frames_verified, total_frames);
    // The client can read an echo before the worker that sent it counts the bytes.
    EXPECT_TRUE(eventually([&] { return server.stats().bytes_out >= verified->bytes_verified; }, until))
        << describe(server.stats());
    s = server.stats();
    EXPECT_EQ(s.active, std::uint64_t(connections)) << describe(s);
    EXPECT_EQ(s.accepted, std::uint64_t(connections)) << describe(s);
    EXPECT_EQ(s.messages_in, total_frames) << describe(s);
    EXPECT_EQ(s.messages_out, total_frames) << describe(s);
    EXPECT_EQ(s.bytes_in, verified->bytes_verified) << describe(s);
    EXPECT_EQ(s.bytes_out, verified->bytes_verified) << describe(s);
    const long long echo_ms = ms_since(echo_started);
    ASSERT_TRUE(let_go_on(mine));

    // 3. The child closes everything and exits; the server sees every close.
    EXPECT_EQ(clients.wait(std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now())), 0)
        << "the load child reports what went wrong on stderr";
    EXPECT_TRUE(eventually([&] { return server.stats().active == 0; }, until)) << describe(server.stats());
    s = server.stats();
    EXPECT_EQ(s.closed_by_peer, std::uint64_t(connections)) << describe(s);
    EXPECT_EQ(s.closed_by_error + s.closed_by_timeout + s.closed_by_protocol_error + s.closed_by_server, 0u)
        << describe(s);
    std::cout << "[ scale    ] " << connections << " connections x " << kFrames << " frames on " << GetParam()
              << " (" << address.substr(0, address.find(':')) << "): connected in " << connect_ms
              << " ms, echoed in " << echo_ms << " ms, " << ms_since(started) << " ms in all" << std::endl;
    server.shutdown(1s);
  }

  DescriptorLimit limit_;  // destroyed last: after the server and the child
};

TEST_P(ServerAtScale, TenThousandConcurrentTcpConnectionsEachGetTheirEchoWithEveryByteVerified) {
  run_at_scale("tcp://127.0.0.1:0");
}

TEST_P(ServerAtScale, TenThousandConcurrentUnixConnectionsEachGetTheirEchoWithEveryByteVerified) {
  test::TempDir dir;
  run_at_scale("unix:" + dir.file("scale.sock"));
}

INSTANTIATE_TEST_SUITE_P(Backends, ServerAtScale, ::testing::ValuesIn(test::backends_under_test()),
                         test::backend_param_name);

}  // namespace
}  // namespace sockit::net
