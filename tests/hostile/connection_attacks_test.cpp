// The hostile-client battery, connections: slowloris, idle hordes, floods past
// max_connections, connect/close churn. Per backend; the server runs in a child
// process and is measured from outside (hostile_fixture.hpp). Counts are scaled
// down from the issue's (1,000 slowloris peers, 30 s of churn) for a 2-core CI
// machine running two tests at once; each case says what it uses.
#include <sys/socket.h>

#include <array>
#include <atomic>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "hostile/hostile_fixture.hpp"
#include "support/peer_closed.hpp"

namespace sockit::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using net::Framing;
using net::ServerOptions;
using net::ServerStats;

// The server must reset peers that trickle bytes but never complete a frame once
// idle_timeout (1 s) passes, never before, while the well-behaved client (a frame
// every few ms) is served throughout. 300 peers each declare a 1000-byte frame and
// send one more byte every 200 ms. Bound: RSS +32 MiB, descriptors +300 and a few.
TEST_P(Hostile, SlowlorisPeersTricklingBytesAreResetAfterTheIdleTimeoutWhileAGoodClientIsServed) {
  ServerOptions options;
  options.connection.framing = Framing::length_prefix();
  options.idle_timeout = 1s;
  auto server = serve("tcp://127.0.0.1:0", options);
  ASSERT_TRUE(server);
  WellBehavedClient good(server->address());
  ASSERT_TRUE(good.wait_for_round_trips(1));
  const Measurement measured(server->pid());
  const auto started = Clock::now();

  constexpr int kPeers = 300;
  constexpr auto kTrickle = 200ms;
  struct Peer {
    StreamSocket socket;
    Clock::time_point connected;
    std::optional<Clock::time_point> reset;
  };
  std::vector<Peer> peers(kPeers);
  const std::array<std::byte, 4> declares_1000{std::byte{0}, std::byte{0}, std::byte{0x03}, std::byte{0xe8}};
  for (auto& p : peers) {
    auto c = connect(server->address(), 5s);
    ASSERT_TRUE(c) << c.error().message();
    p.connected = Clock::now();
    ASSERT_TRUE(c->send_all(declares_1000, 5s));
    p.socket = std::move(*c);
  }
  int open = kPeers;
  const std::byte one{'x'};
  while (open > 0 && Clock::now() - started < 10 * options.idle_timeout) {
    std::this_thread::sleep_for(kTrickle);  // the load's own pace
    for (auto& p : peers) {
      if (p.reset) continue;
      // A reset peer fails this send (ECONNRESET, EPIPE); it may also have read its end already.
      std::array<std::byte, 1> b{};
      auto r = p.socket.recv_some(b, Deadline(0ms));
      const bool closed = (r && *r == 0) || (!r && r.error() != errc::timed_out &&
                                             r.error() != std::errc::resource_unavailable_try_again);
      if (r && *r > 0) FAIL() << "a slowloris peer got a reply";
      if (closed || !p.socket.send_all(std::span(&one, 1), 1s)) {
        p.reset = Clock::now();
        --open;
      }
    }
  }
  ASSERT_EQ(open, 0) << "slowloris peers still open after " << 10 * options.idle_timeout.count() << " ms";
  for (const auto& p : peers) {
    EXPECT_GE(*p.reset - p.connected, options.idle_timeout) << "a peer was reset before its timeout";
  }
  const auto stats = server->stats_when([](const ServerStats& s) { return s.closed_by_timeout >= kPeers; });
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->closed_by_timeout, std::uint64_t{kPeers}) << "the good client was never timed out";
  peers.clear();
  conclude("300 peers, 1 byte each per 200 ms, idle_timeout 1 s (TCP)", 32 << 10, kPeers + 8, started, measured,
           good);
  EXPECT_EQ(server->stop(), 0);
}

// The server must reset every connection that sends nothing once idle_timeout
// (500 ms) passes, never before: 500 silent peers on a Unix socket, each read by
// the test until the server closes it. Bound: RSS +32 MiB, descriptors +500 and a
// few, and all of them back once the horde is gone.
TEST_P(Hostile, AnIdleHordeIsResetPastTheIdleTimeout) {
  ServerOptions options;
  options.connection.framing = Framing::length_prefix();
  options.idle_timeout = 500ms;
  auto server = serve("unix:@" + unique_abstract_name(), options);
  ASSERT_TRUE(server);
  WellBehavedClient good(server->address());
  ASSERT_TRUE(good.wait_for_round_trips(1));
  const Measurement measured(server->pid());
  const auto started = Clock::now();

  constexpr int kPeers = 500;
  std::vector<StreamSocket> horde;
  for (int i = 0; i < kPeers; ++i) {
    auto c = connect(server->address(), 5s);
    ASSERT_TRUE(c) << i << ": " << c.error().message();
    horde.push_back(std::move(*c));
  }
  const auto last_connected = Clock::now();
  for (int i = 0; i < kPeers; ++i) {
    std::array<std::byte, 1> b{};
    ASSERT_TRUE(closed_by_peer(horde[i].recv_some(b, 10 * options.idle_timeout))) << "peer " << i;
    if (i == 0) {
      EXPECT_GE(Clock::now() - started, options.idle_timeout) << "reset before its timeout";
    }
  }
  EXPECT_GE(Clock::now() - last_connected, options.idle_timeout) << "the last peer was reset before its timeout";
  const auto stats = server->stats_when([](const ServerStats& s) { return s.closed_by_timeout >= kPeers; });
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->closed_by_timeout, std::uint64_t{kPeers});
  const int baseline = measured.held().baseline_fds;
  horde.clear();
  conclude("500 silent peers, idle_timeout 500 ms (Unix)", 32 << 10, kPeers + 8, started, measured, good);
  EXPECT_TRUE(fd_count_falls_to(server->pid(), baseline));
  EXPECT_EQ(server->stop(), 0);
}

// The server must refuse, at once, connections beyond max_connections (50): 49
// peers are held and served (the well-behaved client is the 50th), then 500 more
// (10x the cap) connect; each is closed without a byte and counted in
// refused_max_connections, and the server's descriptors never exceed the cap by
// more than a few. Then a held peer leaves and a newcomer is served.
TEST_P(Hostile, AConnectionFloodToTenTimesTheCapIsRefusedFastWithDescriptorsBounded) {
  ServerOptions options;
  options.connection.framing = Framing::length_prefix();
  options.max_connections = 50;
  auto server = serve("tcp://127.0.0.1:0", options);
  ASSERT_TRUE(server);
  WellBehavedClient good(server->address());
  ASSERT_TRUE(good.wait_for_round_trips(1));
  const Measurement measured(server->pid());
  const auto started = Clock::now();

  const auto echo = [](StreamSocket& s) {
    const std::array<std::byte, 6> frame{std::byte{0}, std::byte{0}, std::byte{0}, std::byte{2}, std::byte{'h'},
                                         std::byte{'i'}};
    std::array<std::byte, 6> back{};
    return s.send_all(frame, 5s) && s.recv_exact(back, 5s) && back == frame;
  };
  std::vector<StreamSocket> held;
  for (int i = 0; i < 49; ++i) {
    auto c = connect(server->address(), 5s);
    ASSERT_TRUE(c);
    ASSERT_TRUE(echo(*c)) << "held peer " << i;
    held.push_back(std::move(*c));
  }
  constexpr int kFlood = 500;
  std::vector<StreamSocket> flood;
  for (int i = 0; i < kFlood; ++i) {
    auto c = connect(server->address(), 5s);
    ASSERT_TRUE(c) << i << ": " << c.error().message();
    flood.push_back(std::move(*c));
  }
  for (int i = 0; i < kFlood; ++i) {
    std::array<std::byte, 1> b{};
    ASSERT_TRUE(closed_by_peer(flood[i].recv_some(b, 5s))) << "flood peer " << i << " was not refused";
  }
  const auto stats = server->stats_when([](const ServerStats& s) { return s.refused_max_connections >= kFlood; });
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->refused_max_connections, std::uint64_t{kFlood});
  EXPECT_EQ(stats->active, 50u);
  flood.clear();
  held.pop_back();
  ASSERT_TRUE(server->stats_when([](const ServerStats& s) { return s.active == 49; })->active == 49);
  auto newcomer = connect(server->address(), 5s);
  ASSERT_TRUE(newcomer);
  EXPECT_TRUE(echo(*newcomer)) << "room again after one left";
  newcomer->close();
  held.clear();
  // Above the baseline: the 48 other held peers, and the refused ones between their
  // accept and their close. The readiness backends accept one at a time and close a
  // refused connection at once (measured: +49). io_uring's multishot accept lets the
  // kernel accept the whole backlog before the loop sees the completions, so refused
  // connections are briefly held up to the listen backlog (511; measured here up to
  // +245 with 500 flood peers): its bound is the cap plus the backlog.
  const int accept_batch = GetParam() == "io_uring" ? net::ServerOptions{}.listen.backlog : 0;
  conclude("49 held + 500 flood peers, max_connections 50 (TCP)", 32 << 10, 48 + 8 + accept_batch, started,
           measured, good);
  EXPECT_EQ(server->stop(), 0);
}

// TcpExt ListenDrops from /proc/net/netstat: connections the host's listeners lost
// before accept (the accept queue was full, or the half-open connection was reset).
std::uint64_t listen_drops() {
  std::ifstream netstat("/proc/net/netstat");
  std::string names, values;
  while (std::getline(netstat, names) && std::getline(netstat, values)) {
    if (!names.starts_with("TcpExt:")) continue;
    std::istringstream n(names), v(values);
    std::string name, value;
    while (n >> name && v >> value) {
      if (name == "ListenDrops") return std::stoull(value);
    }
  }
  return 0;
}

// The server must not leak a descriptor or memory under connect/close churn at
// full speed: two threads connect and close for 2 s (the issue's 30 s, scaled for
// CI; at most 5,000 each), while the well-behaved client is served. Every close is
// a reset (SO_LINGER 0): graceful closes at this rate leave ~10,000 client ports a
// second in TIME_WAIT, and runs in a row then exhaust the ephemeral ports (connects
// fail, seen here), which would test the machine, not the server. Afterwards
// the server's descriptors return to their baseline. While it runs the server
// holds the connections it accepted and has not yet seen close: measured here up
// to ~1,000 at once on io_uring (its multishot accept outruns the closes), ~250 on
// the readiness backends; the bound, 2,048, is a fifth of the up to 10,000
// connections churned, so a server that leaked even one in five would fail it.
// Reset connections wait in the accept queue until the server takes them, so a
// server slower than the churn (select and poll with hundreds of descriptors, under
// sanitizers, beside other suites) fills a 511 backlog and the kernel drops SYNs:
// the client retries after 1, 2, 4 s. That is the kernel's backpressure, not a
// server fault, so a connect may take as long as three SYN retransmits (20 s);
// every connect must still succeed. (The default backlog stays: it is also what
// bounds how many connections io_uring's multishot accept can take at once.)
TEST_P(Hostile, ConnectCloseChurnAtFullSpeedLeaksNoDescriptorAndTheGoodClientIsServed) {
  ServerOptions options;
  options.connection.framing = Framing::length_prefix();
  auto server = serve("tcp://127.0.0.1:0", options);
  ASSERT_TRUE(server);
  WellBehavedClient good(server->address());
  ASSERT_TRUE(good.wait_for_round_trips(1));
  const Measurement measured(server->pid());
  const auto started = Clock::now();

  const std::uint64_t drops_before = listen_drops();
  constexpr auto kChurn = 2s;
  constexpr int kMaxPerThread = 5000;
  std::atomic<int> churned{0}, failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kMaxPerThread && Clock::now() - started < kChurn; ++i) {
        auto c = connect(server->address(), 20s);
        if (!c) {
          ++failed;
          continue;
        }
        if (!c->set_linger(std::chrono::seconds(0))) ++failed;
        c->close();
        ++churned;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed.load(), 0) << "connects that failed";
  // A connection the client saw complete can still never reach accept(): when the
  // accept queue is full the kernel ignores the handshake's last ACK, and the
  // client's reset then ends the half-open connection (counted in TcpExt
  // ListenDrops). Every one the kernel did queue must be accepted. The counter is
  // the host's, so other tests' drops only widen the allowance; a server that
  // stopped accepting would still fail by thousands.
  const auto dropped_by_kernel = [&] { return listen_drops() - drops_before; };
  const auto stats = server->stats_when([&](const ServerStats& s) {
    return s.accepted + dropped_by_kernel() >= std::uint64_t(churned.load()) + 1 && s.active == 1;
  });
  ASSERT_TRUE(stats);
  EXPECT_LE(stats->accepted, std::uint64_t(churned.load()) + 1);
  EXPECT_GE(stats->accepted + dropped_by_kernel(), std::uint64_t(churned.load()) + 1)
      << "every connection the kernel queued was accepted";
  EXPECT_EQ(stats->active, 1u) << "and closed: only the good client is left";
  EXPECT_EQ(stats->shed_no_descriptors, 0u);
  const int baseline = measured.held().baseline_fds;
  EXPECT_TRUE(fd_count_falls_to(server->pid(), baseline)) << "descriptors back to the baseline";
  conclude(std::to_string(churned.load()) + " connect/reset in 2 s, 2 threads (TCP)", 32 << 10, 2048,
           started, measured, good);
  EXPECT_EQ(server->stop(), 0);
}

INSTANTIATE_TEST_SUITE_P(Backends, Hostile, ::testing::ValuesIn(backends_under_test()), backend_param_name);

}  // namespace
}  // namespace sockit::test
