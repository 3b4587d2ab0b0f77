// The hostile-client battery, descriptor exhaustion: a connection flood past the
// server's RLIMIT_NOFILE. Per backend; the server runs alone in a child process
// with the lowered limit (so only it runs out) and is measured from outside
// (hostile_fixture.hpp). tests/net/server_emfile_test.cpp checks, in detail, what
// each flooding client sees (served or closed at once, never left hanging) and that
// the exhaustion is logged once; this case adds the battery's figures: a
// well-behaved client served on its connection throughout, the server's CPU time
// while it sits at the limit, and its descriptors and memory from outside.
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "hostile/hostile_fixture.hpp"
#include "support/bytes.hpp"

namespace sockit::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using net::Framing;
using net::ServerOptions;
using net::ServerStats;

// The server, limited to 64 descriptors, must shed what it cannot serve (accept
// and close: shed_no_descriptors), keep serving the well-behaved client on its
// connection while 200 flooding connections (3x the limit) are held open, not spin
// at the limit (its CPU time over 1 s there under a quarter of a CPU: it retries
// accept every 50 ms, a spin would use the whole second), and once the flood
// leaves, close its descriptors back to the baseline within 5 s and serve new
// clients at once. Bound: descriptors at most the limit (the kernel's, stated as
// the bound above the baseline: the limit minus the descriptors below it at the
// baseline), RSS +16 MiB.
TEST_P(Hostile, AFloodPastTheDescriptorLimitIsShedWithoutSpinningAndTheServerRecoversWhenItLeaves) {
  constexpr rlim_t kLimit = 64;
  constexpr int kFlood = 200;
  ServerOptions options;
  options.connection.framing = Framing::length_prefix();
  auto server = serve("tcp://127.0.0.1:0", options, echo_messages, kLimit);
  ASSERT_TRUE(server);
  WellBehavedClient good(server->address());
  ASSERT_TRUE(good.wait_for_round_trips(1));
  const int baseline = open_fd_count_of(server->pid());
  // Descriptors the child inherited numbered past the limit (a runner's pipe, say)
  // stay open; the limit bounds only the numbers below it.
  const int below_limit = baseline - open_fd_count_of(server->pid(), static_cast<int>(kLimit));
  const Measurement measured(server->pid());
  const auto started = Clock::now();

  std::vector<StreamSocket> flood;
  for (int i = 0; i < kFlood; ++i) {
    auto c = connect(server->address(), 5s);
    ASSERT_TRUE(c) << i << ": " << c.error().message();
    flood.push_back(std::move(*c));
  }
  // Each flooding connection admitted (and held: the flood does not close) or shed.
  const auto all_seen = [](const ServerStats& s) { return s.accepted - 1 + s.shed_no_descriptors >= kFlood; };
  const auto stats = server->stats_when(all_seen);
  ASSERT_TRUE(stats && all_seen(*stats)) << "the server did not take every flooding connection off its queue";
  EXPECT_GT(stats->shed_no_descriptors, 0u) << "the limit was never reached";
  EXPECT_LT(stats->accepted, std::uint64_t{kLimit}) << "more admitted than the limit allows";
  EXPECT_EQ(stats->accepted - 1 + stats->shed_no_descriptors, std::uint64_t{kFlood});

  // At the limit, the flood held: the good client is served, and the server waits.
  const int at_limit = good.round_trips();
  const long ticks_before = cpu_ticks_of(server->pid());
  std::this_thread::sleep_for(1s);  // the measurement's window, not a synchronisation
  const long ticks_spent = cpu_ticks_of(server->pid()) - ticks_before;
  ASSERT_GE(ticks_before, 0);
  EXPECT_LT(ticks_spent, ::sysconf(_SC_CLK_TCK) / 4) << "CPU ticks in 1 s at the descriptor limit";
  EXPECT_TRUE(good.wait_for_round_trips(at_limit + 20, 5s)) << "the good client at the limit";
  const int served_at_limit = good.round_trips() - at_limit;

  // The flood leaves: descriptors back to the baseline, new clients served.
  const auto left = Clock::now();
  flood.clear();
  EXPECT_TRUE(fd_count_falls_to(server->pid(), baseline, 5s))
      << open_fd_count_of(server->pid()) << " descriptors, " << baseline << " before the flood";
  const auto recovered = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - left);
  for (int i = 0; i < 10; ++i) {
    auto fresh = connect(server->address(), 5s);
    ASSERT_TRUE(fresh) << fresh.error().message();
    net::Buffer wire;
    ASSERT_TRUE(net::encode(Framing::length_prefix(), bytes_of("served again"), wire));
    ASSERT_TRUE(fresh->send_all(wire.readable(), 5s));
    std::vector<std::byte> back(wire.size());
    ASSERT_TRUE(fresh->recv_exact(back, 5s)) << "fresh client " << i;
    EXPECT_TRUE(std::equal(back.begin(), back.end(), wire.readable().begin())) << "fresh client " << i;
  }

  conclude(std::to_string(kFlood) + " held connections, RLIMIT_NOFILE " + std::to_string(kLimit) + ": " +
               std::to_string(stats->accepted - 1) + " admitted, " + std::to_string(stats->shed_no_descriptors) +
               " shed; " + std::to_string(ticks_spent) + " CPU ticks (of " + std::to_string(::sysconf(_SC_CLK_TCK)) +
               ") in 1 s at the limit; " + std::to_string(served_at_limit) + " round trips at the limit; baseline " +
               "descriptors " + std::to_string(recovered.count()) + " ms after the flood left (TCP)",
           16 << 10, static_cast<int>(kLimit) - below_limit, started, measured, good);
  EXPECT_EQ(server->stop(), 0);
}

INSTANTIATE_TEST_SUITE_P(Backends, Hostile, ::testing::ValuesIn(backends_under_test()), backend_param_name);

}  // namespace
}  // namespace sockit::test
