// The metrics snapshot API: the samples each stats struct becomes (names, kinds,
// values), a running Server's snapshot after known traffic on every backend
// (live connections and TCP_INFO included), and snapshots taken from another
// thread while the workers carry traffic (the net suites run under TSan in CI).
#include "sockit/metrics.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <set>
#include <thread>

#include "event/loop_counters.hpp"
#include "sockit/event/loop_metrics.hpp"
#include "sockit/net/metrics.hpp"
#include "sockit/net/server.hpp"
#include "sockit/sockit.hpp"
#include "support/loop_helpers.hpp"
#include "support/temp_dir.hpp"

namespace sockit::net {
namespace {

using namespace std::chrono_literals;

// The value of the sample `name` with `labels`; fails the test if there is none.
double value_of(const MetricsSnapshot& s, std::string_view name, const MetricLabels& labels = {}) {
  const MetricSample* sample = s.find(name, labels);
  EXPECT_NE(sample, nullptr) << "no sample " << name;
  return sample != nullptr ? sample->value : -1;
}

MetricSample::Kind kind_of(const MetricsSnapshot& s, std::string_view name) {
  const MetricSample* sample = s.find(name);
  return sample != nullptr ? sample->kind : MetricSample::Kind::gauge;
}

bool wait_for(const std::function<bool()>& done, std::chrono::milliseconds limit = 10s) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

// Sends `n` bytes and reads the same number back (the server echoes raw chunks).
::testing::AssertionResult echo_bytes(StreamSocket& s, std::size_t n) {
  std::vector<std::byte> out(n, std::byte{'x'});
  if (auto r = s.send_all(out, 10s); !r) return ::testing::AssertionFailure() << "send: " << r.error().message();
  std::vector<std::byte> back(n);
  if (auto r = s.recv_exact(back, 10s); !r) return ::testing::AssertionFailure() << "recv: " << r.error().message();
  return ::testing::AssertionSuccess();
}

TEST(MetricsSnapshot, FindsTheFirstSampleWithTheNameAndEveryGivenLabel) {
  MetricsSnapshot s;
  s.add_counter("x_total", "help", 1, {{"reason", "a"}});
  s.add_counter("x_total", "help", 2, {{"reason", "b"}, {"server", "s"}});
  s.add_gauge("y", "help", 3);
  EXPECT_EQ(s.size(), 3u);
  EXPECT_EQ(s.find("x_total")->value, 1);
  EXPECT_EQ(s.find("x_total", {{"reason", "b"}})->value, 2);
  EXPECT_EQ(s.find("x_total", {{"server", "s"}})->value, 2);
  EXPECT_EQ(s.find("x_total", {{"reason", "c"}}), nullptr);
  EXPECT_EQ(s.find("y")->kind, MetricSample::Kind::gauge);
  EXPECT_EQ(s.find("x_total")->kind, MetricSample::Kind::counter);
}

TEST(MetricsSnapshot, NamesFollowPrometheusGrammar) {
  EXPECT_TRUE(is_valid_metric_name("sockit_loop_waits_total"));
  EXPECT_TRUE(is_valid_metric_name("a:b_c9"));
  EXPECT_FALSE(is_valid_metric_name(""));
  EXPECT_FALSE(is_valid_metric_name("9lives"));
  EXPECT_FALSE(is_valid_metric_name("has-dash"));
  EXPECT_FALSE(is_valid_metric_name("has space"));
  EXPECT_TRUE(is_valid_label_name("reason"));
  EXPECT_FALSE(is_valid_label_name("__reserved"));
  EXPECT_FALSE(is_valid_label_name("a:b"));
  EXPECT_FALSE(is_valid_label_name("1a"));
}

TEST(TcpInfoSummary, KeepsMinimumMeanMaximumAndSumsOverConnectionsAndWorkers) {
  TcpInfoSummary first;
  first.add({.rtt = 100us, .rttvar = 10us, .total_retransmits = 2, .unacked = 1});
  first.add({.rtt = 300us, .rttvar = 30us, .total_retransmits = 0, .unacked = 0});
  TcpInfoSummary second;
  second.add({.rtt = 50us, .rttvar = 20us, .total_retransmits = 5, .unacked = 3});
  TcpInfoSummary empty;
  first += empty;  // an idle worker changes nothing
  first += second;
  EXPECT_EQ(first.connections, 3u);
  EXPECT_EQ(first.rtt_min, 50us);
  EXPECT_EQ(first.rtt_max, 300us);
  EXPECT_EQ(first.rtt_mean(), 150us);
  EXPECT_EQ(first.rttvar_mean(), 20us);
  EXPECT_EQ(first.total_retransmits, 7u);
  EXPECT_EQ(first.unacked, 4u);
  EXPECT_EQ(empty.rtt_mean(), 0us);
}

TEST(LoopMetrics, EveryLoopCounterBecomesOneSampleWithItsValue) {
  event::LoopStats stats;
  std::uint64_t n = 1;
  for (event::LoopStatsField field : event::kLoopStatsFields) stats.*field = 1000 + n++;
  MetricsSnapshot s;
  event::append_metrics(s, stats, {{"server", "a"}});
  std::set<std::uint64_t> seen;
  for (const MetricSample& sample : s) {
    EXPECT_TRUE(sample.name.starts_with("sockit_loop_")) << sample.name;
    EXPECT_EQ(sample.labels, (MetricLabels{{"server", "a"}})) << sample.name;
    EXPECT_FALSE(sample.help.empty()) << sample.name;
    EXPECT_EQ(sample.kind == MetricSample::Kind::counter, sample.name.ends_with("_total")) << sample.name;
    if (sample.name != "sockit_loop_events_per_wait") seen.insert(static_cast<std::uint64_t>(sample.value));
  }
  EXPECT_EQ(seen.size(), event::kLoopStatsFields.size()) << "each field once, each with its own value";
  EXPECT_EQ(value_of(s, "sockit_loop_waits_total"), static_cast<double>(stats.syscalls_wait));
  EXPECT_EQ(value_of(s, "sockit_loop_hangup_rechecks_total"), static_cast<double>(stats.hangup_rechecks));
  EXPECT_EQ(value_of(s, "sockit_loop_registered_handles"), static_cast<double>(stats.registered));
  EXPECT_DOUBLE_EQ(value_of(s, "sockit_loop_events_per_wait"),
                   static_cast<double>(stats.events) / static_cast<double>(stats.syscalls_wait));
}

TEST(LoopMetrics, BackendIsALabelAndEachFallbackASampleWithItsReason) {
  event::BackendInfo backend{.name = "io_uring", .features = {}, .fallbacks = {"send-zc: refused by the kernel", "odd"}};
  MetricsSnapshot s;
  event::append_metrics(s, backend);
  EXPECT_EQ(value_of(s, "sockit_loop_backend_info", {{"backend", "io_uring"}}), 1);
  EXPECT_EQ(value_of(s, "sockit_loop_backend_fallback", {{"feature", "send-zc"}, {"reason", "refused by the kernel"}}),
            1);
  EXPECT_EQ(value_of(s, "sockit_loop_backend_fallback", {{"feature", "odd"}, {"reason", ""}}), 1);
}

TEST(NetMetrics, ConnectionDatagramAndConnectorStatsKeepTheirValuesAndUnits) {
  MetricsSnapshot s;
  const auto now = std::chrono::steady_clock::now();
  append_metrics(s, ConnectionStats{.bytes_in = 1, .bytes_out = 2, .messages_in = 3, .messages_out = 4,
                                    .connected_at = now - 1500ms},
                 {}, now);
  append_metrics(s, DatagramEndpointStats{.datagrams_in = 5, .bytes_in = 6, .datagrams_out = 7, .bytes_out = 8,
                                          .truncated = 9, .dropped = 10, .receive_calls = 11, .send_calls = 12});
  append_metrics(s, ConnectorStats{.attempts = 13, .total_backoff = 250ms, .last_error = {}});
  EXPECT_EQ(value_of(s, "sockit_connection_received_bytes_total"), 1);
  EXPECT_EQ(value_of(s, "sockit_connection_sent_bytes_total"), 2);
  EXPECT_EQ(value_of(s, "sockit_connection_received_messages_total"), 3);
  EXPECT_EQ(value_of(s, "sockit_connection_queued_messages_total"), 4);
  EXPECT_DOUBLE_EQ(value_of(s, "sockit_connection_age_seconds"), 1.5);
  EXPECT_EQ(value_of(s, "sockit_datagram_received_total"), 5);
  EXPECT_EQ(value_of(s, "sockit_datagram_received_bytes_total"), 6);
  EXPECT_EQ(value_of(s, "sockit_datagram_sent_total"), 7);
  EXPECT_EQ(value_of(s, "sockit_datagram_sent_bytes_total"), 8);
  EXPECT_EQ(value_of(s, "sockit_datagram_truncated_total"), 9);
  EXPECT_EQ(value_of(s, "sockit_datagram_dropped_total"), 10);
  EXPECT_EQ(value_of(s, "sockit_datagram_receive_calls_total"), 11);
  EXPECT_EQ(value_of(s, "sockit_datagram_send_calls_total"), 12);
  EXPECT_EQ(value_of(s, "sockit_connector_attempts_total"), 13);
  EXPECT_DOUBLE_EQ(value_of(s, "sockit_connector_backoff_seconds_total"), 0.25);
  for (const MetricSample& sample : s) {
    EXPECT_EQ(sample.kind == MetricSample::Kind::counter, sample.name.ends_with("_total")) << sample.name;
  }
}

TEST(NetMetrics, TcpSummaryHasNoRttWithoutConnectionsAndSecondsWithThem) {
  MetricsSnapshot none;
  append_metrics(none, TcpInfoSummary{});
  EXPECT_EQ(value_of(none, "sockit_server_tcp_connections"), 0);
  EXPECT_EQ(none.find("sockit_server_tcp_rtt_mean_seconds"), nullptr) << "no connection, no RTT (not a 0)";
  TcpInfoSummary two;
  two.add({.rtt = 1000us, .total_retransmits = 3});
  two.add({.rtt = 3000us});
  MetricsSnapshot s;
  append_metrics(s, two);
  EXPECT_EQ(value_of(s, "sockit_server_tcp_connections"), 2);
  EXPECT_DOUBLE_EQ(value_of(s, "sockit_server_tcp_rtt_min_seconds"), 0.001);
  EXPECT_DOUBLE_EQ(value_of(s, "sockit_server_tcp_rtt_mean_seconds"), 0.002);
  EXPECT_DOUBLE_EQ(value_of(s, "sockit_server_tcp_rtt_max_seconds"), 0.003);
  EXPECT_EQ(value_of(s, "sockit_server_tcp_retransmitted_segments"), 3);
}

class ServerMetricsOn : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (!test::make_loop_or_skip({.backend = GetParam()}) && !IsSkipped()) FAIL() << "no loop for " << GetParam();
  }
  // A raw echo server (every chunk read goes back) with `threads` workers.
  std::unique_ptr<Server> echo(const std::string& address, unsigned threads,
                               std::function<void(Connection&)> also = {}) {
    ServerOptions options;
    options.backend = GetParam();
    options.threads = threads;
    auto server = Server::create(*Address::parse(address), std::move(options), [also](Connection& c) {
      c.on_message([](Connection& self, std::span<const std::byte> m) { (void)self.send(m); });
      if (also) also(c);
    });
    EXPECT_TRUE(server) << server.error().message();
    if (!server) return nullptr;
    EXPECT_TRUE((*server)->start());
    return std::move(*server);
  }
  test::TempDir dir_;
};

TEST_P(ServerMetricsOn, SnapshotMatchesTheTrafficAndCountsLiveConnectionsWithTheirTcpInfo) {
  auto server = echo("tcp://127.0.0.1:0", 2);
  ASSERT_TRUE(server);
  constexpr std::size_t kClients = 3;
  constexpr std::size_t kBytes = 10000;
  std::vector<StreamSocket> clients;
  for (std::size_t i = 0; i < kClients; ++i) {
    auto c = connect(server->local_address(), 5s);
    ASSERT_TRUE(c) << c.error().message();
    ASSERT_TRUE(echo_bytes(*c, kBytes));
    clients.push_back(std::move(*c));
  }
  // Every echo came back, so the server admitted and read everything; its count
  // of bytes sent follows each send by a moment (the client may read first).
  ASSERT_TRUE(wait_for([&] { return server->stats().bytes_out == kClients * kBytes; }));
  MetricsSnapshot s;
  server->append_metrics(s, {{"server", "echo"}});
  EXPECT_EQ(value_of(s, "sockit_server_connections_accepted_total", {{"server", "echo"}}), kClients);
  EXPECT_EQ(value_of(s, "sockit_server_connections_live"), kClients);
  EXPECT_EQ(value_of(s, "sockit_server_received_bytes_total"), kClients * kBytes);
  EXPECT_EQ(value_of(s, "sockit_server_sent_bytes_total"), kClients * kBytes);
  EXPECT_EQ(value_of(s, "sockit_server_connections_refused_total", {{"reason", "max_connections"}}), 0);
  EXPECT_EQ(value_of(s, "sockit_server_connections_closed_total", {{"reason", "peer"}}), 0);
  EXPECT_EQ(value_of(s, "sockit_server_worker_threads"), 2);
  EXPECT_EQ(value_of(s, "sockit_server_connections_max"), static_cast<double>(server->max_connections()));
  EXPECT_EQ(value_of(s, "sockit_loop_backend_info", {{"backend", server->backend()}}), 1);
  EXPECT_GT(value_of(s, "sockit_loop_waits_total"), 0);
  EXPECT_GT(value_of(s, "sockit_loop_events_total"), 0);
  EXPECT_EQ(kind_of(s, "sockit_server_connections_live"), MetricSample::Kind::gauge);
  EXPECT_EQ(kind_of(s, "sockit_server_connections_accepted_total"), MetricSample::Kind::counter);
  // TCP_INFO of the three live connections: data went both ways, so each has an RTT.
  EXPECT_EQ(value_of(s, "sockit_server_tcp_connections"), kClients);
  const double rtt_min = value_of(s, "sockit_server_tcp_rtt_min_seconds");
  const double rtt_mean = value_of(s, "sockit_server_tcp_rtt_mean_seconds");
  const double rtt_max = value_of(s, "sockit_server_tcp_rtt_max_seconds");
  EXPECT_GT(rtt_min, 0);
  EXPECT_LE(rtt_min, rtt_mean);
  EXPECT_LE(rtt_mean, rtt_max);
  EXPECT_LT(rtt_max, 10) << "seconds, not microseconds";
  for (const MetricSample& sample : s) {
    EXPECT_TRUE(is_valid_metric_name(sample.name)) << sample.name;
    EXPECT_FALSE(sample.help.empty()) << sample.name;
    ASSERT_FALSE(sample.labels.empty()) << sample.name;
    EXPECT_EQ(sample.labels.front(), (std::pair<std::string, std::string>{"server", "echo"})) << sample.name;
  }

  // One client leaves: counted as closed by its peer, and no longer live.
  clients.front().close();
  ASSERT_TRUE(wait_for([&] { return server->stats().active == kClients - 1; }));
  MetricsSnapshot after;
  server->append_metrics(after);
  EXPECT_EQ(value_of(after, "sockit_server_connections_live"), kClients - 1);
  EXPECT_EQ(value_of(after, "sockit_server_connections_closed_total", {{"reason", "peer"}}), 1);
  EXPECT_EQ(value_of(after, "sockit_server_tcp_connections"), kClients - 1);
  server->shutdown(200ms);  // the two left do not close: reset at the deadline
  MetricsSnapshot stopped;
  server->append_metrics(stopped);
  EXPECT_EQ(value_of(stopped, "sockit_server_tcp_connections"), 0) << "no loop to ask once shut down";
  EXPECT_EQ(value_of(stopped, "sockit_server_connections_closed_total", {{"reason", "shutdown"}}), kClients - 1);
}

TEST_P(ServerMetricsOn, UnixServerHasNoTcpSamples) {
  auto server = echo("unix:" + dir_.file("metrics.sock"), 1);
  ASSERT_TRUE(server);
  auto c = connect(server->local_address(), 5s);
  ASSERT_TRUE(c) << c.error().message();
  ASSERT_TRUE(echo_bytes(*c, 100));
  ASSERT_TRUE(wait_for([&] { return server->stats().bytes_out == 100; }));
  MetricsSnapshot s;
  server->append_metrics(s);
  EXPECT_EQ(value_of(s, "sockit_server_connections_live"), 1);
  EXPECT_EQ(value_of(s, "sockit_server_received_bytes_total"), 100);
  for (const MetricSample& sample : s) EXPECT_FALSE(sample.name.starts_with("sockit_server_tcp_")) << sample.name;
  c->close();
  server->shutdown(2s);
}

TEST_P(ServerMetricsOn, SnapshotOnAWorkerThreadReadsThatWorkerWithoutWaitingOnItself) {
  // The handler takes the snapshot on the worker's own thread: were the worker
  // asked by a posted task, it could not run it while waiting, and the wait would
  // last the whole `within`.
  std::atomic<double> seen_live{-1};
  std::atomic<double> seen_tcp{-1};
  std::atomic<std::int64_t> took_ms{-1};
  // Set once the server exists, read by its worker: atomic, since the only order
  // between the two is the client's connect, which ThreadSanitizer cannot see.
  std::atomic<Server*> self{nullptr};
  auto server = echo("tcp://127.0.0.1:0", 1, [&](Connection& c) {
    c.on_message([&](Connection& conn, std::span<const std::byte> m) {
      const auto start = std::chrono::steady_clock::now();
      MetricsSnapshot s;
      self.load()->append_metrics(s, {}, 60s);
      took_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
      const MetricSample* live = s.find("sockit_server_connections_live");
      const MetricSample* tcp = s.find("sockit_server_tcp_connections");
      seen_live = live != nullptr ? live->value : -2;
      seen_tcp = tcp != nullptr ? tcp->value : -2;
      (void)conn.send(m);
    });
  });
  ASSERT_TRUE(server);
  self = server.get();
  auto c = connect(server->local_address(), 5s);
  ASSERT_TRUE(c) << c.error().message();
  ASSERT_TRUE(echo_bytes(*c, 10));
  EXPECT_EQ(seen_live.load(), 1);
  EXPECT_EQ(seen_tcp.load(), 1);
  EXPECT_LT(took_ms.load(), 30000) << "waited on itself";
  c->close();
  server->shutdown(2s);
}

TEST_P(ServerMetricsOn, SnapshotsFromAnotherThreadWhileWorkersCarryTrafficOnlyEverGrowTheCounters) {
  auto server = echo("tcp://127.0.0.1:0", 2);
  ASSERT_TRUE(server);
  constexpr int kClients = 4;
  constexpr int kRounds = 200;
  std::atomic<bool> failed{false};
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&] {
      auto c = connect(server->local_address(), 5s);
      if (!c) {
        failed = true;
        return;
      }
      for (int round = 0; round < kRounds && !failed; ++round) {
        if (!echo_bytes(*c, 512)) failed = true;
      }
    });
  }
  double accepted = 0;
  double bytes = 0;
  double waits = 0;
  int snapshots = 0;
  // Snapshots while the clients run, and one more after they finished.
  for (bool done = false; !done;) {
    done = server->stats().bytes_out >= static_cast<std::uint64_t>(kClients) * kRounds * 512 || failed;
    MetricsSnapshot s;
    server->append_metrics(s);
    ++snapshots;
    const double now_accepted = value_of(s, "sockit_server_connections_accepted_total");
    const double now_bytes = value_of(s, "sockit_server_sent_bytes_total");
    const double now_waits = value_of(s, "sockit_loop_waits_total");
    EXPECT_GE(now_accepted, accepted);
    EXPECT_GE(now_bytes, bytes);
    EXPECT_GE(now_waits, waits);
    EXPECT_LE(value_of(s, "sockit_server_tcp_connections"), kClients);
    accepted = now_accepted;
    bytes = now_bytes;
    waits = now_waits;
    std::this_thread::sleep_for(1ms);  // pacing only: the checks hold at any rate
  }
  for (auto& t : clients) t.join();
  EXPECT_FALSE(failed);
  EXPECT_EQ(accepted, kClients);
  EXPECT_EQ(bytes, static_cast<double>(kClients) * kRounds * 512);
  EXPECT_GT(snapshots, 1);
  server->shutdown(2s);
}

INSTANTIATE_TEST_SUITE_P(Backends, ServerMetricsOn, ::testing::ValuesIn(test::backends_under_test()),
                         test::backend_param_name);

}  // namespace
}  // namespace sockit::net
