// Server over every backend: echo under load, limits, idle timeout, EMFILE, shutdown.
#include "sockit/net/server.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <random>
#include <thread>

#include "sockit/sockit.hpp"
#include "support/bytes.hpp"
#include "support/loop_helpers.hpp"
#include "support/temp_dir.hpp"

namespace sockit::net {
namespace {

using namespace std::chrono_literals;
using test::bytes_of;
using test::string_of;

Address parse(const std::string& s) { return *Address::parse(s); }

class ServerOn : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "io_uring" && !event::EventLoop::create({.backend = "io_uring"})) {
      GTEST_SKIP() << "io_uring unavailable on this kernel";
    }
  }
  // An echo server for length-prefixed frames.
  std::unique_ptr<Server> echo(const std::string& address, ServerOptions options = {}) {
    options.backend = GetParam();
    options.connection.framing = Framing::length_prefix(1 << 20);
    auto server = Server::create(parse(address), std::move(options), [](Connection& c) {
      c.on_message([](Connection& self, std::span<const std::byte> m) { (void)self.send(m); });
    });
    EXPECT_TRUE(server) << server.error().message();
    if (!server) return nullptr;
    EXPECT_TRUE((*server)->start());
    return std::move(*server);
  }
  test::TempDir dir_;
};

// Sends one length-prefixed frame and reads the echo back.
::testing::AssertionResult echo_once(StreamSocket& s, std::span<const std::byte> payload) {
  Buffer wire;
  if (!encode(Framing::length_prefix(), payload, wire)) return ::testing::AssertionFailure() << "encode";
  if (auto r = s.send_all(wire.readable(), 10s); !r) return ::testing::AssertionFailure() << "send: " << r.error().message();
  std::vector<std::byte> back(wire.size());
  if (auto r = s.recv_exact(back, 10s); !r) return ::testing::AssertionFailure() << "recv: " << r.error().message();
  if (!std::equal(back.begin(), back.end(), wire.readable().begin())) return ::testing::AssertionFailure() << "echo differs";
  return ::testing::AssertionSuccess();
}

bool wait_for(const std::function<bool()>& done, std::chrono::milliseconds limit = 5s) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

TEST_P(ServerOn, ManyClientsEachEchoRandomSizedFramesWithEveryByteVerified) {
  ServerOptions options;
  options.threads = 2;
  auto server = echo("tcp://127.0.0.1:0", options);
  ASSERT_TRUE(server);
  // Scaled for a 2-core CI machine: 200 concurrent clients x 50 frames (the issue's
  // 1,000 x 1,000 is a load run, see docs/BENCHMARKS.md).
  constexpr int kClients = 200, kFrames = 50;
  std::vector<StreamSocket> clients;
  for (int i = 0; i < kClients; ++i) {
    auto c = connect(server->local_address(), 5s);
    ASSERT_TRUE(c) << c.error().message();
    clients.push_back(std::move(*c));
  }
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int f = 0; f < kFrames; ++f) {
        for (int i = t; i < kClients; i += 4) {
          const auto payload = test::random_bytes(std::uniform_int_distribution<std::size_t>(0, 4096)(rng), rng());
          if (!echo_once(clients[i], payload)) ++failures;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  clients.clear();
  ASSERT_TRUE(wait_for([&] { return server->stats().active == 0; }));
  EXPECT_EQ(server->stats().messages_in, std::uint64_t{kClients} * kFrames);
  server->shutdown(1s);
}

TEST(Server, RefusesDatagramAddressesWhichHaveNoConnections) {
  for (const std::string& address :
       {std::string("udp://127.0.0.1:0"), "unix-dgram:@" + test::unique_abstract_name()}) {
    auto server = Server::create(parse(address), {}, nullptr);
    ASSERT_FALSE(server) << address;
    EXPECT_EQ(server.error(), errc::wrong_transport) << address;
  }
}

// Seqpacket: one record out, the same record back (sizes known, so one buffer each).
::testing::AssertionResult echo_record(SeqPacketSocket& s, std::span<const std::byte> record) {
  using ::testing::AssertionFailure;
  if (auto r = s.send(record, 10s); !r) return AssertionFailure() << "send: " << r.error().message();
  auto size = s.next_message_size(10s);
  if (!size) return AssertionFailure() << "size: " << size.error().message();
  if (*size != record.size()) return AssertionFailure() << *size << " bytes came back, not " << record.size();
  std::vector<std::byte> back(*size);
  if (auto r = s.recv(back, 10s); !r) return AssertionFailure() << "recv: " << r.error().message();
  if (!std::equal(back.begin(), back.end(), record.begin())) return AssertionFailure() << "echo differs";
  return ::testing::AssertionSuccess();
}

TEST_P(ServerOn, EchoesSeqpacketRecordsWholeOnEveryWorkerAndClosesOnlyAnOversizedSender) {
  ServerOptions options;
  options.threads = 2;
  auto server = echo("unix-seqpacket:" + dir_.file("records.sock"), options);  // max record: 1 MiB
  ASSERT_TRUE(server);
  std::vector<SeqPacketSocket> clients;
  for (int i = 0; i < 4; ++i) {
    auto c = connect_seqpacket(server->local_address(), 5s);
    ASSERT_TRUE(c) << c.error().message();
    ASSERT_TRUE(c->set_send_buffer_size(1 << 20));
    clients.push_back(std::move(*c));
  }
  // Empty, small, larger than a 64 KiB receive chunk: each comes back as itself.
  std::uint64_t records = 0;
  for (std::size_t size : {0, 1, 100, 65536, 65537, 200 * 1024}) {
    for (auto& c : clients) {
      EXPECT_TRUE(echo_record(c, test::random_bytes(size, size + records))) << size;
      ++records;
    }
  }
  // A burst is answered record by record, never merged.
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(clients[0].send(bytes_of("burst " + std::to_string(i)), 5s));
  for (int i = 0; i < 100; ++i) {
    std::array<std::byte, 64> b{};
    auto n = clients[0].recv(b, 5s);
    ASSERT_TRUE(n) << n.error().message();
    EXPECT_EQ(string_of(std::span(b).first(*n)), "burst " + std::to_string(i));
  }
  records += 100;
  // Over the maximum record size: that client alone is closed, and it is counted.
  auto bad = connect_seqpacket(server->local_address(), 5s);
  ASSERT_TRUE(bad);
  ASSERT_TRUE(bad->set_send_buffer_size(4 << 20));
  ASSERT_TRUE(bad->send(test::random_bytes((1 << 20) + 1, 9), 5s));
  std::array<std::byte, 16> b{};
  auto r = bad->recv(b, 5s);
  EXPECT_TRUE(!r || *r == 0) << "the offender is closed";
  ASSERT_TRUE(wait_for([&] { return server->stats().closed_by_error == 1; }));
  for (auto& c : clients) EXPECT_TRUE(echo_record(c, bytes_of("still served")));
  records += clients.size();
  EXPECT_EQ(server->stats().messages_in, records);
  EXPECT_EQ(server->stats().messages_out, records);
  clients.clear();
  ASSERT_TRUE(wait_for([&] { return server->stats().active == 0; }));
  EXPECT_EQ(server->stats().closed_by_peer, 4u);
  server->shutdown(1s);
}

TEST_P(ServerOn, StatsCountTheTrafficOfConnectionsThatAreStillOpen) {
  auto server = echo("tcp://127.0.0.1:0");
  ASSERT_TRUE(server);
  auto client = connect(server->local_address(), 2s);
  ASSERT_TRUE(client);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(echo_once(*client, bytes_of("12345")));
  // Still connected. The third echo has arrived, so the server has read and
  // queued all three frames (4 bytes of length + 5 of payload each); its count of
  // bytes written lands when the send completes, which may be just after.
  const ServerStats s = server->stats();
  EXPECT_EQ(s.active, 1u);
  EXPECT_EQ(s.messages_in, 3u);
  EXPECT_EQ(s.messages_out, 3u);
  EXPECT_EQ(s.bytes_in, 27u);
  EXPECT_TRUE(wait_for([&] { return server->stats().bytes_out == 27u; })) << server->stats().bytes_out;
  client->close();
  server->shutdown(1s);
}

TEST_P(ServerOn, OverTheConnectionCapANewClientIsClosedAtOnce) {
  ServerOptions options;
  options.max_connections = 3;
  auto server = echo("unix:" + dir_.file("s.sock"), options);
  ASSERT_TRUE(server);
  std::vector<StreamSocket> held;
  for (int i = 0; i < 3; ++i) {
    auto c = connect(server->local_address(), 2s);
    ASSERT_TRUE(c);
    ASSERT_TRUE(echo_once(*c, bytes_of("hi")));
    held.push_back(std::move(*c));
  }
  auto extra = connect(server->local_address(), 2s);
  ASSERT_TRUE(extra) << "accepted by the kernel...";
  std::array<std::byte, 1> b{};
  auto r = extra->recv_some(b, 2s);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, 0u) << "...and closed by the server without a hang";
  EXPECT_EQ(server->stats().refused_max_connections, 1u);
  held.pop_back();
  ASSERT_TRUE(wait_for([&] { return server->stats().active == 2; }));
  auto again = connect(server->local_address(), 2s);
  ASSERT_TRUE(again);
  EXPECT_TRUE(echo_once(*again, bytes_of("room again")));
}

TEST_P(ServerOn, PerPeerLimitRefusesOnlyTheExcess) {
  ServerOptions options;
  options.max_connections_per_peer = 2;
  auto server = echo("tcp://127.0.0.1:0", options);
  ASSERT_TRUE(server);
  auto a = connect(server->local_address(), 2s);
  auto b = connect(server->local_address(), 2s);
  ASSERT_TRUE(a && b);
  EXPECT_TRUE(echo_once(*a, bytes_of("a")));
  EXPECT_TRUE(echo_once(*b, bytes_of("b")));
  auto c = connect(server->local_address(), 2s);
  ASSERT_TRUE(c);
  std::array<std::byte, 1> buf{};
  auto r = c->recv_some(buf, 2s);
  EXPECT_TRUE(r && *r == 0);
  EXPECT_EQ(server->stats().refused_per_peer, 1u);
}

TEST_P(ServerOn, AcceptRateBucketRefusesTheBurstBeyondIt) {
  ServerOptions options;
  options.accept_rate = 1;  // one per second after the burst
  options.accept_burst = 3;
  auto server = echo("unix:@" + test::unique_abstract_name(), options);
  ASSERT_TRUE(server);
  std::vector<StreamSocket> clients;
  for (int i = 0; i < 6; ++i) {
    auto c = connect(server->local_address(), 2s);
    ASSERT_TRUE(c);
    clients.push_back(std::move(*c));
  }
  ASSERT_TRUE(wait_for([&] { return server->stats().accepted + server->stats().refused_rate == 6; }));
  EXPECT_EQ(server->stats().accepted, 3u);
  EXPECT_EQ(server->stats().refused_rate, 3u);
}

TEST_P(ServerOn, AnIdleClientIsDroppedAndABusyOneIsNot) {
  ServerOptions options;
  options.idle_timeout = 200ms;
  auto server = echo("tcp://127.0.0.1:0", options);
  ASSERT_TRUE(server);
  auto idle = connect(server->local_address(), 2s);
  auto busy = connect(server->local_address(), 2s);
  ASSERT_TRUE(idle && busy);
  const auto until = std::chrono::steady_clock::now() + 700ms;
  while (std::chrono::steady_clock::now() < until) {
    ASSERT_TRUE(echo_once(*busy, bytes_of("still here")));
    std::this_thread::sleep_for(50ms);
  }
  std::array<std::byte, 1> b{};
  auto r = idle->recv_some(b, 2s);
  EXPECT_TRUE(!r || *r == 0) << "the idle client was cut off";
  EXPECT_EQ(server->stats().closed_by_timeout, 1u);
}

TEST_P(ServerOn, AnOversizedFrameClosesOnlyTheOffender) {
  auto server = echo("tcp://127.0.0.1:0");
  ASSERT_TRUE(server);
  auto good = connect(server->local_address(), 2s);
  auto bad = connect(server->local_address(), 2s);
  ASSERT_TRUE(good && bad);
  const std::array<std::byte, 4> huge{std::byte{0x7f}, std::byte{0xff}, std::byte{0xff}, std::byte{0xff}};
  ASSERT_TRUE(bad->send_all(huge, 2s));
  std::array<std::byte, 1> b{};
  auto r = bad->recv_some(b, 2s);
  EXPECT_TRUE(!r || *r == 0);
  EXPECT_TRUE(echo_once(*good, bytes_of("unaffected")));
  ASSERT_TRUE(wait_for([&] { return server->stats().closed_by_error == 1; }));
}

TEST_P(ServerOn, GracefulShutdownDeliversEveryAcknowledgedReply) {
  auto server = echo("unix:" + dir_.file("g.sock"));
  ASSERT_TRUE(server);
  auto c = connect(server->local_address(), 2s);
  ASSERT_TRUE(c);
  // Pipeline many frames, then shut the server down while replies are in flight.
  Buffer wire;
  const auto payload = test::random_bytes(8192, 3);
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(encode(Framing::length_prefix(), payload, wire));
  ASSERT_TRUE(c->send_all(wire.readable(), 5s));
  ASSERT_TRUE(wait_for([&] { return server->stats().active == 1; }));
  std::thread reader([&] {
    std::vector<std::byte> back(wire.size());
    auto r = c->recv_exact(back, 10s);
    EXPECT_TRUE(r) << r.error().message();
  });
  std::this_thread::sleep_for(20ms);
  server->shutdown(5s);
  reader.join();
  EXPECT_EQ(server->stats().messages_in, server->stats().messages_out)
      << "every message the server read was answered";
}

INSTANTIATE_TEST_SUITE_P(Backends, ServerOn, ::testing::ValuesIn(test::backends_under_test()),
                         test::backend_param_name);

}  // namespace
}  // namespace sockit::net
