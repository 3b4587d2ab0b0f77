// The hostile-client battery, datagrams: a flood from many source ports, oversized
// datagrams, senders whose replies cannot be delivered. Per backend, against the
// datagram echo `sockit echo udp://...` runs (a net::DatagramEndpoint; support/
// datagram_echo_process.hpp) alone in a child process and measured from outside
// (hostile_fixture.hpp), with a well-behaved datagram client beside each attack
// (support/well_behaved_datagram_client.hpp: numbered requests, every reply
// checked byte for byte).
//
// A datagram server holds no state per peer: a reply queue bounded in datagrams
// and bytes (4,096 / 4 MiB) and receive buffers allocated once (2 MiB). So in every
// case its descriptors must not move at all (bound +0) and its memory must stay
// within a few MiB of its baseline, whatever the attack.
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "hostile/hostile_fixture.hpp"
#include "support/bytes.hpp"

namespace sockit::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Memory a datagram echo may grow by under any of these attacks: its receive
// buffers (2 MiB, allocated at start but touched only as datagrams arrive), a full
// reply queue (4 MiB) and the allocator's slack around them. Under ASan freed
// memory waits in a quarantine (256 MiB by default, which CI keeps) before it is
// reused, so RSS grows with every byte the server ever allocated, and the echo
// allocates a copy of each reply it queues (measured: +37..74 MiB over the flood;
// +4 MiB with the quarantine at 1 MiB). On top come ASan's shadow memory and its
// allocator's per-size caches: CI measured +371 MiB on select, whose slower turns
// let more of the flood in. Under ASan RSS measures the sanitizer more than the
// server, so the bound there only catches a runaway (1 GiB); the release run,
// with the 16 MiB bound, is where it bites.
#if defined(__SANITIZE_ADDRESS__)
constexpr std::int64_t kDatagramRssBoundKib = 1 << 20;
#else
constexpr std::int64_t kDatagramRssBoundKib = 16 << 10;
#endif

// Every datagram the echo received was answered or counted as dropped, and nothing waits.
bool settled(const DatagramEchoStats& s) {
  return s.endpoint.datagrams_out + s.endpoint.dropped + s.unanswerable == s.endpoint.datagrams_in;
}

// A server that spins (wakes without waiting) burns its CPU; one that waits uses
// almost none. The window is quiet but for the well-behaved client (a round trip
// every few ms, a few % of a CPU even under sanitizers); the bound, a quarter of a
// CPU, is far from both.
void expect_no_spin(pid_t pid, std::chrono::milliseconds window) {
  const long before = cpu_ticks_of(pid);
  std::this_thread::sleep_for(window);  // the measurement's own window, not a synchronisation
  const long spent = cpu_ticks_of(pid) - before;
  ASSERT_GE(before, 0);
  EXPECT_LT(spent, ::sysconf(_SC_CLK_TCK) * window.count() / 1000 / 4)
      << "CPU ticks in " << window.count() << " ms after the attack: the server spins";
}

// A /proc/net/snmp counter, host-wide ("Icmp", "OutDestUnreachs"); -1 if not found.
long long snmp_counter(const std::string& group, const std::string& name) {
  std::ifstream snmp("/proc/net/snmp");
  std::string names, values;
  while (std::getline(snmp, names) && std::getline(snmp, values)) {
    if (!names.starts_with(group + ":")) continue;
    std::istringstream n(names), v(values);
    std::string key, value;
    while (n >> key && v >> value) {
      if (key == name) return std::stoll(value);
    }
  }
  return -1;
}

// The server must stay bounded and keep answering while 256 UDP sockets (256
// source ports) send as fast as two threads can for 2 s and never read the
// replies. The echo cannot keep up on a shared 2-core machine: its receive queue
// overflows and the kernel drops what does not fit, the good client's requests
// among them (the server never sees those). So here, and only here, the good
// client asks again after 100 ms of silence (each round trip still has its 3 s
// deadline); its resends are counted in the figures. Every datagram the server
// did receive must be answered or counted as dropped (replies to the flood's full
// queues are lost silently by the kernel, which is not the server's to see).
TEST_P(Hostile, AUdpFloodFromManySourcePortsKeepsTheServerBoundedAndTheGoodClientServed) {
  auto server = serve_datagrams("udp://127.0.0.1:0");
  ASSERT_TRUE(server);
  WellBehavedDatagramClient good(server->address(), {.resend_after = 100ms});
  ASSERT_TRUE(good.wait_for_round_trips(1));
  const Measurement measured(server->pid());
  const auto started = Clock::now();

  constexpr int kSockets = 256;
  constexpr auto kFlood = 2s;
  std::vector<DatagramSocket> flood;
  for (int i = 0; i < kSockets; ++i) {
    auto s = DatagramSocket::connect(server->address());
    ASSERT_TRUE(s) << i << ": " << s.error().message();
    flood.push_back(std::move(*s));
  }
  const int before = good.round_trips();
  std::atomic<std::uint64_t> sent{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(t);
      const auto payload = random_bytes(1472, t);  // the largest that fits one loopback-MTU-sized Ethernet frame
      std::uint64_t mine = 0;
      while (Clock::now() - started < kFlood) {
        for (int i = t; i < kSockets; i += 2) {
          // A full send buffer is a skipped datagram, not a wait: as fast as the kernel takes them.
          if (flood[i].send(std::span(payload).first(1 + rng() % payload.size()), Deadline(0ms))) ++mine;
        }
      }
      sent += mine;
    });
  }
  // Served during the flood, not only after it.
  EXPECT_TRUE(good.wait_for_round_trips(before + 5, 5s)) << "the good client during the flood";
  for (auto& t : threads) t.join();
  const int during = good.round_trips() - before;
  flood.clear();

  const auto stats = server->stats_when(settled);
  ASSERT_TRUE(stats);
  EXPECT_TRUE(stats->open) << "the endpoint closed itself";
  EXPECT_TRUE(settled(*stats)) << stats->endpoint.datagrams_in << " in, " << stats->endpoint.datagrams_out
                               << " out, " << stats->endpoint.dropped << " dropped";
  EXPECT_EQ(stats->endpoint.truncated, 0u);
  const std::string load = std::to_string(kSockets) + " UDP sockets flooding for 2 s: " +
                           std::to_string(sent.load()) + " datagrams sent, " +
                           std::to_string(stats->endpoint.datagrams_in) + " received by the server (the rest " +
                           "dropped by the kernel), " + std::to_string(stats->endpoint.dropped) +
                           " replies dropped by it; " + std::to_string(during) + " round trips during the flood";
  const WellBehavedResult served = conclude(load, kDatagramRssBoundKib, 0, started, measured, good);
  // The flood's datagrams and the good client's requests (each sent once, plus its
  // resends, plus one perhaps in flight when it stopped), and no more.
  EXPECT_LE(stats->endpoint.datagrams_in, sent.load() + served.round_trips + served.resends.value_or(0) + 1)
      << "more received than sent";
  EXPECT_EQ(server->stop(), 0);
}

// The server must never deliver a datagram larger than its max_datagram_size as
// if it were whole: each is counted (truncated) with its real size reported (the
// sum is checked) and nothing is echoed for it, while one of exactly the maximum
// is echoed whole. UDP with a 4 KiB maximum (sizes 4,097 to 65,507, the largest
// UDP payload over IPv4) and Unix datagrams with the default 64 KiB maximum (sizes
// 64 KiB + 1 to 160 KiB), 40 datagrams each, one at a time: a few 64 KiB datagrams
// fill a UDP receive queue, and the good client must lose nothing here.
TEST_P(Hostile, OversizedDatagramsAreCountedAndDroppedNeverEchoedCut) {
  struct Variant {
    std::string address;
    std::size_t max;
    std::size_t largest;
    std::string name;
  };
  const std::vector<Variant> variants{
      {"udp://127.0.0.1:0", 4096, 65507, "UDP"},
      {"unix-dgram:@" + unique_abstract_name(), 64 * 1024, 160 * 1024, "Unix"},
  };
  for (const auto& v : variants) {
    SCOPED_TRACE(v.name);
    auto server = serve_datagrams(v.address, v.max);
    ASSERT_TRUE(server);
    WellBehavedDatagramClient good(server->address());
    ASSERT_TRUE(good.wait_for_round_trips(1));
    const Measurement measured(server->pid());
    const auto started = Clock::now();

    auto attacker = DatagramSocket::connect(server->address());
    ASSERT_TRUE(attacker) << attacker.error().message();
    ASSERT_TRUE(attacker->set_send_buffer_size(static_cast<int>(2 * v.largest))) << "room for the largest datagram";
    std::vector<std::size_t> sizes{v.max + 1, v.max + 2, 2 * v.max, v.largest};
    std::mt19937_64 rng(7);
    while (sizes.size() < 40) sizes.push_back(v.max + 1 + rng() % (v.largest - v.max));
    std::uint64_t sent_bytes = 0;
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      ASSERT_TRUE(attacker->send(random_bytes(sizes[i], i), 5s)) << sizes[i] << " bytes";
      sent_bytes += sizes[i];
      const auto s = server->stats_when([&](const DatagramEchoStats& st) { return st.endpoint.truncated > i; }, 5s);
      ASSERT_TRUE(s && s->endpoint.truncated == i + 1) << "datagram " << i << " (" << sizes[i] << " bytes) not counted";
    }
    // Exactly the maximum is not oversized: echoed whole.
    const auto whole = random_bytes(v.max, 99);
    ASSERT_TRUE(attacker->send(whole, 5s));
    std::vector<std::byte> back(v.largest + 1);
    auto got = attacker->recv(back, 5s);
    ASSERT_TRUE(got) << "the echo of a datagram of exactly the maximum: " << got.error().message();
    EXPECT_EQ(*got, v.max);
    EXPECT_TRUE(std::equal(whole.begin(), whole.end(), back.begin())) << "its echo differs";
    // And nothing else came back: a reply to an oversized datagram would have been
    // queued here before the echo of the last one (one socket, in order).
    auto extra = attacker->recv(back, 20ms);
    EXPECT_FALSE(extra) << "a reply of " << *extra << " bytes to an oversized datagram";

    const auto stats = server->stats_when(settled);
    ASSERT_TRUE(stats);
    EXPECT_TRUE(stats->open);
    EXPECT_EQ(stats->endpoint.truncated, sizes.size());
    EXPECT_EQ(stats->truncated_bytes, sent_bytes) << "the real sizes reported";
    EXPECT_EQ(stats->endpoint.dropped, 0u);
    conclude(std::to_string(sizes.size()) + " datagrams of " + std::to_string(v.max + 1) + ".." +
                 std::to_string(v.largest) + " bytes over a " + std::to_string(v.max) + "-byte maximum (" + v.name +
                 ")",
             kDatagramRssBoundKib, 0, started, measured, good);
    EXPECT_EQ(server->stop(), 0);
  }
}

// The server must drop replies that cannot be delivered and go on serving,
// without spinning or stopping: (UDP) 500 sockets each send a datagram and close
// at once, so most replies meet a closed port (the kernel answers with ICMP port
// unreachable, counted host-wide in the figures; an unconnected UDP socket is not
// told); (Unix) 100 senders bound to a path they unlink before sending, so every
// reply fails (ENOENT: counted as dropped and reported, each one), and 50 unbound
// senders, which leave no address to answer (counted as unanswerable). The good
// client loses nothing; the server's CPU over 500 ms afterwards shows no spin.
TEST_P(Hostile, RepliesThatCannotBeDeliveredAreDroppedAndTheServerGoesOnServing) {
  // UDP.
  {
    auto server = serve_datagrams("udp://127.0.0.1:0");
    ASSERT_TRUE(server);
    WellBehavedDatagramClient good(server->address());
    ASSERT_TRUE(good.wait_for_round_trips(1));
    const Measurement measured(server->pid());
    const auto started = Clock::now();
    const long long unreachable_before = snmp_counter("Icmp", "OutDestUnreachs");

    // In rounds of 50, each received before the next: a few hundred small datagrams
    // at once would overflow the server's receive queue (~200 fit), and what the
    // kernel drops there never reaches the server, so would test nothing.
    constexpr int kSenders = 500;
    constexpr int kRound = 50;
    // Every datagram from the senders so far received, and the good client's too
    // (each round trip it counted was a request the server received).
    const auto received = [&](int senders) {
      return [&good, senders](const DatagramEchoStats& s) {
        return s.endpoint.datagrams_in >= std::uint64_t(senders + good.round_trips()) && settled(s);
      };
    };
    std::optional<DatagramEchoStats> stats;
    for (int i = 0; i < kSenders; ++i) {
      auto s = DatagramSocket::connect(server->address());
      ASSERT_TRUE(s);
      ASSERT_TRUE(s->send(bytes_of("reply to nobody"), 1s));
      s->close();  // at once: the reply, if not already queued to it, meets a closed port
      if ((i + 1) % kRound == 0) {
        stats = server->stats_when(received(i + 1), 5s);
        ASSERT_TRUE(stats && received(i + 1)(*stats)) << "the server did not receive the senders up to " << i;
      }
    }
    EXPECT_TRUE(stats->open);
    expect_no_spin(server->pid(), 500ms);
    const long long unreachable = snmp_counter("Icmp", "OutDestUnreachs") - unreachable_before;
    conclude(std::to_string(kSenders) + " UDP senders closed right after sending: " + std::to_string(unreachable) +
                 " ICMP port unreachable (host-wide)",
             kDatagramRssBoundKib, 0, started, measured, good);
    EXPECT_EQ(server->stop(), 0);
  }
  // Unix datagrams.
  {
    auto server = serve_datagrams("unix-dgram:@" + unique_abstract_name());
    ASSERT_TRUE(server);
    WellBehavedDatagramClient good(server->address());
    ASSERT_TRUE(good.wait_for_round_trips(1));
    const Measurement measured(server->pid());
    const auto started = Clock::now();

    TempDir dir;
    constexpr int kGone = 100;
    constexpr int kUnbound = 50;
    for (int i = 0; i < kGone; ++i) {
      const std::string path = dir.path() + "/sender" + std::to_string(i);
      auto s = DatagramSocket::bind(*Address::parse("unix-dgram:" + path));
      ASSERT_TRUE(s) << s.error().message();
      ASSERT_EQ(::unlink(path.c_str()), 0);  // the reply's target is gone before the request leaves
      ASSERT_TRUE(s->send_to(bytes_of("reply to a path that is gone"), server->address(), 1s));
    }
    for (int i = 0; i < kUnbound; ++i) {
      auto s = DatagramSocket::open(Transport::unix_dgram);
      ASSERT_TRUE(s);
      ASSERT_TRUE(s->send_to(bytes_of("reply to no address"), server->address(), 1s));
    }
    const auto stats = server->stats_when([&](const DatagramEchoStats& s) {
      return s.endpoint.dropped >= kGone && s.unanswerable >= kUnbound && settled(s);
    });
    ASSERT_TRUE(stats);
    EXPECT_TRUE(stats->open);
    EXPECT_EQ(stats->endpoint.dropped, std::uint64_t{kGone}) << "every reply to a gone path, and no other";
    EXPECT_EQ(stats->errors, std::uint64_t{kGone}) << "each reported";
    EXPECT_EQ(stats->unanswerable, std::uint64_t{kUnbound});
    expect_no_spin(server->pid(), 500ms);
    conclude(std::to_string(kGone) + " Unix senders whose path is gone + " + std::to_string(kUnbound) +
                 " unbound ones: every reply dropped and counted",
             kDatagramRssBoundKib, 0, started, measured, good);
    EXPECT_EQ(server->stop(), 0);
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, Hostile, ::testing::ValuesIn(backends_under_test()), backend_param_name);

}  // namespace
}  // namespace sockit::test
