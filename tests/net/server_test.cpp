// Server over every backend: echo under load, limits, peer-credential policy,
// backpressure, idle timeout, close reasons, shutdown under load.
#include "sockit/net/server.hpp"

#include <gtest/gtest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <optional>
#include <random>
#include <thread>

#include "sockit/sockit.hpp"
#include "support/bytes.hpp"
#include "support/loop_helpers.hpp"
#include "support/peer_closed.hpp"
#include "support/temp_dir.hpp"

namespace sockit::net {
namespace {

using namespace std::chrono_literals;
using test::bytes_of;
using test::string_of;

Address parse(const std::string& s) { return *Address::parse(s); }

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

// Runs `fn` when the scope ends, so a failed ASSERT does not leave a thread joinable.
struct OnExit {
  std::function<void()> fn;
  ~OnExit() { fn(); }
};

// SO_SNDBUF of a new Unix stream socket, which an accepted one starts with too; -1 on failure.
int default_unix_send_buffer() {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) return -1;
  const Fd first(pair[0]), second(pair[1]);
  int size = -1;
  socklen_t length = sizeof size;
  if (::getsockopt(first.get(), SOL_SOCKET, SO_SNDBUF, &size, &length) != 0) return -1;
  return size;
}

// The end of the connection with nothing before it: the end of stream, or a reset
// (a Unix peer closed with our bytes unread), not an echo and not a hang.
::testing::AssertionResult closed_without_echo(StreamSocket& s) {
  std::array<std::byte, 64> b{};
  auto r = s.recv_some(b, 5s);
  if (r && *r > 0) return ::testing::AssertionFailure() << *r << " bytes came back";
  if (!r && r.error() == errc::timed_out) return ::testing::AssertionFailure() << "neither echoed nor closed";
  return ::testing::AssertionSuccess();
}

class ServerOn : public ::testing::TestWithParam<std::string> {
 protected:
  // The backend must be creatable (a skip only where the kernel refuses io_uring).
  void SetUp() override {
    if (!test::make_loop_or_skip({.backend = GetParam()}) && !IsSkipped()) FAIL() << "no loop for " << GetParam();
  }
  // An echo server for length-prefixed frames (started unless told otherwise);
  // `also` sees each connection after the echo is set up (on its worker thread).
  std::unique_ptr<Server> echo(const std::string& address, ServerOptions options = {}, bool start = true,
                               std::function<void(Connection&)> also = {}) {
    options.backend = GetParam();
    options.connection.framing = Framing::length_prefix(1 << 20);
    auto server = Server::create(parse(address), std::move(options), [also](Connection& c) {
      c.on_message([](Connection& self, std::span<const std::byte> m) { (void)self.send(m); });
      if (also) also(c);
    });
    EXPECT_TRUE(server) << server.error().message();
    if (!server) return nullptr;
    if (start) {
      EXPECT_TRUE((*server)->start());
    }
    return std::move(*server);
  }
  // One client under a peer-credential policy, served or refused. It connects and
  // sends a frame before the server accepts anything, so a policy checked after the
  // first read would find bytes to read (and count them).
  void expect_policy(const std::string& address, ServerOptions options, bool served) {
    SCOPED_TRACE(address + (served ? ": served" : ": refused"));
    auto server = echo(address, std::move(options), /*start=*/false);
    ASSERT_TRUE(server);
    auto c = connect(server->local_address(), 2s);
    ASSERT_TRUE(c) << c.error().message();
    Buffer wire;
    ASSERT_TRUE(encode(Framing::length_prefix(), bytes_of("who am I"), wire));
    ASSERT_TRUE(c->send_all(wire.readable(), 2s));
    ASSERT_TRUE(server->start());
    if (served) {
      std::vector<std::byte> back(wire.size());
      ASSERT_TRUE(c->recv_exact(back, 5s));
      EXPECT_TRUE(std::equal(back.begin(), back.end(), wire.readable().begin()));
      EXPECT_EQ(server->stats().accepted, 1u);
      EXPECT_EQ(server->stats().refused_policy, 0u);
    } else {
      EXPECT_TRUE(closed_without_echo(*c));
      ASSERT_TRUE(wait_for([&] { return server->stats().refused_policy == 1; }));
      const ServerStats s = server->stats();
      EXPECT_EQ(s.accepted, 0u) << "refused like the other limits: not counted as accepted";
      EXPECT_EQ(s.active, 0u);
      EXPECT_EQ(s.bytes_in, 0u) << "refused before a byte was read";
      EXPECT_EQ(s.messages_in, 0u);
    }
    c->close();
    server->shutdown(1s);
  }

  test::TempDir dir_;
};

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
  EXPECT_TRUE(test::closed_by_peer(r)) << "the offender is closed";
  ASSERT_TRUE(wait_for([&] { return server->stats().closed_by_protocol_error == 1; }));
  EXPECT_EQ(server->stats().closed_by_error, 0u) << "a protocol error is not counted twice";
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

TEST_P(ServerOn, AcceptRateBucketRefusesTheBurstBeyondItAndRefillsAtItsRate) {
  ServerOptions options;
  options.accept_rate = 1;  // one per second after the burst
  options.accept_burst = 3;
  constexpr std::uint64_t kClients = 10;
  auto server = echo("unix:@" + test::unique_abstract_name(), options);
  ASSERT_TRUE(server);
  // The bucket starts full, so over any window it admits at most the burst plus
  // what the rate refilled meanwhile. The window is measured, not assumed: a
  // slow machine refills more tokens and the bound grows with it (a bucket that
  // admits everyone still breaks it unless the connects take 7 s).
  const auto first_connect = std::chrono::steady_clock::now();
  std::vector<StreamSocket> clients;
  for (std::uint64_t i = 0; i < kClients; ++i) {
    auto c = connect(server->local_address(), 2s);
    ASSERT_TRUE(c);
    clients.push_back(std::move(*c));
  }
  ASSERT_TRUE(wait_for([&] { return server->stats().accepted + server->stats().refused_rate == kClients; }));
  const double window = std::chrono::duration<double>(std::chrono::steady_clock::now() - first_connect).count();
  const std::uint64_t accepted = server->stats().accepted;
  EXPECT_GE(accepted, 3u) << "the burst is admitted";
  EXPECT_LE(static_cast<double>(accepted), options.accept_burst + options.accept_rate * window)
      << "admitted in " << window << " s";
  EXPECT_EQ(server->stats().refused_rate, kClients - accepted);
  // The tokens are spent, and the bucket never holds fewer than none: a whole
  // period after the last admission decision it holds a token again.
  std::this_thread::sleep_for(std::chrono::duration<double>(1 / options.accept_rate));
  auto late = connect(server->local_address(), 2s);
  ASSERT_TRUE(late);
  EXPECT_TRUE(echo_once(*late, bytes_of("refilled"))) << "the bucket did not refill";
  EXPECT_EQ(server->stats().accepted, accepted + 1);
}

TEST_P(ServerOn, AnIdleClientIsDroppedAndABusyOneIsNot) {
  // The busy client makes progress back to back, so only a stall of a whole
  // timeout (a second) on this machine could make it look idle.
  ServerOptions options;
  options.idle_timeout = 1s;
  auto server = echo("tcp://127.0.0.1:0", options);
  ASSERT_TRUE(server);
  auto idle = connect(server->local_address(), 2s);
  auto busy = connect(server->local_address(), 2s);
  ASSERT_TRUE(idle && busy);
  // Busy until the idle one is cut off, and for a timeout after that: a server
  // that ignored progress would by then have cut off the busy one too (it
  // connected just after the idle one).
  const auto limit = std::chrono::steady_clock::now() + 10 * options.idle_timeout;
  std::optional<std::chrono::steady_clock::time_point> idle_dropped_at;
  while (!idle_dropped_at || std::chrono::steady_clock::now() - *idle_dropped_at < options.idle_timeout) {
    ASSERT_TRUE(echo_once(*busy, bytes_of("still here")));
    if (!idle_dropped_at && server->stats().closed_by_timeout > 0) idle_dropped_at = std::chrono::steady_clock::now();
    ASSERT_LT(std::chrono::steady_clock::now(), limit) << "the idle client was never dropped";
    std::this_thread::sleep_for(10ms);
  }
  std::array<std::byte, 1> b{};
  auto r = idle->recv_some(b, 5s);
  EXPECT_TRUE(test::closed_by_peer(r)) << "the idle client was cut off";
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
  EXPECT_TRUE(test::closed_by_peer(r));
  EXPECT_TRUE(echo_once(*good, bytes_of("unaffected")));
  ASSERT_TRUE(wait_for([&] { return server->stats().closed_by_protocol_error == 1; }));
  EXPECT_EQ(server->stats().closed_by_error, 0u);
}

TEST_P(ServerOn, AUnixPeerWhoseUidIsNotAllowedIsClosedBeforeAByteIsRead) {
  ServerOptions mine;
  mine.allowed_uids = {::geteuid()};
  expect_policy("unix:" + dir_.file("uid-ok.sock"), mine, /*served=*/true);
  ServerOptions other;
  other.allowed_uids = {::geteuid() + 1};
  expect_policy("unix:" + dir_.file("uid-no.sock"), other, /*served=*/false);
}

TEST_P(ServerOn, AUnixPeerWhoseGidIsNotAllowedIsClosedBeforeAByteIsRead) {
  ServerOptions mine;
  mine.allowed_gids = {::getegid()};
  expect_policy("unix:@" + test::unique_abstract_name(), mine, /*served=*/true);
  ServerOptions other;
  other.allowed_gids = {::getegid() + 1};
  expect_policy("unix:@" + test::unique_abstract_name(), other, /*served=*/false);
  // Either list admits: another uid is allowed, but our gid is too.
  ServerOptions either;
  either.allowed_uids = {::geteuid() + 1};
  either.allowed_gids = {::getegid()};
  expect_policy("unix:" + dir_.file("either.sock"), either, /*served=*/true);
}

TEST(Server, RefusesAPeerCredentialPolicyOnTcpWhereNoPeerCredentialsExist) {
  ServerOptions uids;
  uids.allowed_uids = {::geteuid()};
  auto by_uid = Server::create(parse("tcp://127.0.0.1:0"), uids, nullptr);
  ASSERT_FALSE(by_uid) << "a TCP server would serve everyone while the caller believes a policy holds";
  EXPECT_EQ(by_uid.error(), errc::invalid_argument);
  ServerOptions gids;
  gids.allowed_gids = {::getegid()};
  auto by_gid = Server::create(parse("tcp://[::1]:0"), gids, nullptr);
  ASSERT_FALSE(by_gid);
  EXPECT_EQ(by_gid.error(), errc::invalid_argument);
}

TEST_P(ServerOn, AClientThatNeverReadsIsHeldUnderTheOutputBoundWhileOthersAreServed) {
  constexpr std::size_t kMaxFrame = 16 * 1024;
  constexpr std::size_t kLengthPrefix = 4;
  ServerOptions options;
  options.backend = GetParam();
  options.threads = 1;  // A and B on one loop: B is served by the loop A is stalling
  options.connection.framing = Framing::length_prefix(kMaxFrame);
  // Between the marks, more than the server's socket to A can ever take (a Unix
  // stream's bytes in flight count against the sender's SO_SNDBUF, overshooting it
  // by at most the half-buffer skb being built): once the queue passes the high
  // mark, writing to A cannot bring it down to the low one, so the first pause is
  // the last and no time has to pass to know that the server stopped reading A.
  const int unix_send_buffer = default_unix_send_buffer();
  ASSERT_GT(unix_send_buffer, 0);
  options.connection.low_water_mark = 16 * 1024;
  options.connection.high_water_mark = options.connection.low_water_mark + 2 * std::size_t(unix_send_buffer);
  // Reading pauses once the queue passes the high mark, but the chunk in hand is
  // decoded to its end: its frames, and the incomplete one buffered before it,
  // may all be echoed on top.
  options.loop.receive_buffer_size = 16 * 1024;
  options.loop.receive_buffer_count = 16;
  const std::size_t receive_chunk = options.loop.receive_buffer_size;
  // io_uring's multishot receive reads ahead into the provided-buffer ring while
  // the loop is busy; what it completed before the first pause reached the kernel
  // is stashed (kept in order for the resume), after which the connection reads one
  // buffer at a time. So up to one ring's worth may have left A's socket. (With
  // multishot receives re-armed after every resume, 53-508 KB more did here.)
  const std::size_t read_ahead = GetParam() == "io_uring"
                                     ? std::size_t{options.loop.receive_buffer_count} * receive_chunk
                                     : 0;
  const std::size_t bound = options.connection.high_water_mark + receive_chunk + kLengthPrefix + kMaxFrame;
  options.connection.max_output_bytes = bound;
  struct Seen {
    std::atomic<std::size_t> peak_queued{0};
    std::atomic<int> refused{0};
    std::atomic<int> paused{0};
  };
  auto seen = std::make_shared<Seen>();
  // The handler runs on the worker loop, where queued_output() may be read: after
  // each send is when the queue is longest.
  auto created = Server::create(parse("unix:" + dir_.file("bp.sock")), options, [seen](Connection& c) {
    c.on_message([seen](Connection& self, std::span<const std::byte> m) {
      if (!self.send(m)) ++seen->refused;
      const std::size_t queued = self.queued_output();
      std::size_t peak = seen->peak_queued.load();
      while (queued > peak && !seen->peak_queued.compare_exchange_weak(peak, queued)) {
      }
    });
    c.on_backpressure([seen](Connection&, bool above) {
      if (above) ++seen->paused;
    });
  });
  ASSERT_TRUE(created) << created.error().message();
  auto& server = *created;
  ASSERT_TRUE(server->start());

  auto a = connect(server->local_address(), 2s);
  ASSERT_TRUE(a);
  // 8 MiB: far more than the bound and both sockets' buffers together.
  Buffer wire;
  const auto payload = test::random_bytes(kMaxFrame, 1);
  while (wire.size() < (8u << 20)) ASSERT_TRUE(encode(options.connection.framing, payload, wire));
  // A keeps sending until told to stop, counting what the kernel took.
  std::atomic<bool> stop_a{false};
  std::atomic<std::size_t> a_sent{0};
  std::thread sender([&] {
    std::span<const std::byte> rest = wire.readable();
    while (!stop_a && !rest.empty()) {
      auto n = a->send_some(rest, 20ms);
      if (!n && n.error() == errc::timed_out) continue;
      if (!n) break;
      a_sent += *n;
      rest = rest.subspan(*n);
    }
  });
  const auto end_a = [&] {
    stop_a = true;
    if (sender.joinable()) sender.join();
  };
  const OnExit end_a_on_failure{end_a};
  // The server stops reading A. Its count of bytes in includes the chunk whose
  // frames filled the queue before the pause is announced, so from here on it
  // may only grow by what B sends.
  ASSERT_TRUE(wait_for([&] { return seen->paused.load() >= 1; }, 30s));
  const std::uint64_t held = server->stats().bytes_in;

  auto b = connect(server->local_address(), 2s);
  ASSERT_TRUE(b);
  const auto small = bytes_of("served meanwhile");
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(echo_once(*b, small)) << i;
  EXPECT_EQ(server->stats().bytes_in, held + 20 * (kLengthPrefix + small.size()))
      << "only B was read from while A's replies waited";

  end_a();
  // What A got into the kernel is in its Connection (bytes_in), still in A's
  // socket buffer (a Unix stream's bytes in flight count against the sender's,
  // which may overshoot SO_SNDBUF by the one skb being built: at most half of
  // it), or, on io_uring, in the engine's read-ahead.
  const auto a_buffer = a->send_buffer_size();
  ASSERT_TRUE(a_buffer);
  const auto in_a_socket = static_cast<std::size_t>(*a_buffer) * 3 / 2;
  EXPECT_LT(a_sent.load(), wire.size()) << "A's send never blocked";
  EXPECT_LE(a_sent.load(), held + in_a_socket + read_ahead)
      << "A's Connection read " << held << " bytes: something below it kept reading A";
  EXPECT_GT(seen->peak_queued.load(), options.connection.high_water_mark) << "A's replies filled the queue";
  EXPECT_LE(seen->peak_queued.load(), bound);
  EXPECT_EQ(seen->refused.load(), 0) << "reading paused before the output bound was reached";
  EXPECT_EQ(seen->paused.load(), 1) << "A's queue drained to the low mark: more went into its socket than it holds";
  a->close();
  b->close();
  server->shutdown(1s);
}

TEST_P(ServerOn, AQuietConnectionIsResetNoSoonerThanTheTimeoutAndWithinAnEighthAfter) {
  // Long enough that the slack for this test's own scheduling (a quarter of it)
  // is half a second, while a check once per timeout (1.9x) or once per half
  // timeout (1.4x) still lands past the bound.
  ServerOptions options;
  options.idle_timeout = 2s;
  auto server = echo("unix:" + dir_.file("quiet.sock"), options);
  ASSERT_TRUE(server);
  auto c = connect(server->local_address(), 2s);
  ASSERT_TRUE(c);
  // Some way into the first period, so a check once per timeout would see this
  // progress late and re-arm for a whole timeout (up to 1.9x here).
  std::this_thread::sleep_for(options.idle_timeout / 10);
  const auto before_last_message = std::chrono::steady_clock::now();  // the server's progress is later
  ASSERT_TRUE(echo_once(*c, bytes_of("last word")));
  std::array<std::byte, 1> b{};
  auto r = c->recv_some(b, 5 * options.idle_timeout);
  const auto quiet = std::chrono::steady_clock::now() - before_last_message;
  ASSERT_TRUE(test::closed_by_peer(r)) << "the quiet client was reset";
  // The slack for the test's own scheduling (the server's is the eighth).
  const auto scheduling_slack = options.idle_timeout / 4;
  EXPECT_GE(quiet, options.idle_timeout);
  EXPECT_LE(quiet, options.idle_timeout + options.idle_timeout / 8 + scheduling_slack)
      << std::chrono::duration_cast<std::chrono::milliseconds>(quiet).count() << " ms";
  ASSERT_TRUE(wait_for([&] { return server->stats().closed_by_timeout == 1; }));
}

TEST_P(ServerOn, ATrickleThatNeverCompletesAFrameIsResetWhileOneThatCompletesThemIsNot) {
  // The steady client completes a frame every 4 ticks (200 ms): five times
  // within the timeout, so only a stall of 800 ms here could make it look idle.
  ServerOptions options;
  options.idle_timeout = 1s;
  auto server = echo("unix:" + dir_.file("trickle.sock"), options);
  ASSERT_TRUE(server);
  const auto start = std::chrono::steady_clock::now();  // before the server sees either
  auto slowloris = connect(server->local_address(), 2s);
  auto steady = connect(server->local_address(), 2s);
  ASSERT_TRUE(slowloris && steady);
  // A byte each every tick: the slowloris's frame declares 1000 bytes and never
  // ends; the steady client's are empty frames (4 bytes). Until the slowloris is
  // reset and for a timeout after that, so that a server resetting whoever
  // connected a timeout ago, progress or not, would have reset the steady client.
  constexpr auto kTick = 50ms;
  const auto limit = start + 10 * options.idle_timeout;
  const std::array<std::byte, 4> declares_1000{std::byte{0}, std::byte{0}, std::byte{0x03}, std::byte{0xe8}};
  const std::array<std::byte, 4> empty_frame{};
  std::optional<std::chrono::steady_clock::duration> slowloris_reset_after;
  int tick = 0;
  for (; !slowloris_reset_after || std::chrono::steady_clock::now() - start <
                                       *slowloris_reset_after + options.idle_timeout;
       ++tick) {
    ASSERT_LT(std::chrono::steady_clock::now(), limit) << "a client sending bytes but no whole frame was never reset";
    ASSERT_TRUE(steady->send_all(std::span(empty_frame).subspan(tick % 4, 1), 2s)) << "tick " << tick;
    if (slowloris_reset_after) {
      std::this_thread::sleep_for(kTick);
      continue;
    }
    const std::byte next = tick < 4 ? declares_1000[tick] : std::byte{'x'};
    bool gone = !slowloris->send_all(std::span(&next, 1), 2s);  // EPIPE, ECONNRESET: reset already
    if (!gone) {
      std::array<std::byte, 1> b{};
      auto r = slowloris->recv_some(b, kTick);  // waits out the tick, unless the server acts
      if (r && *r > 0) FAIL() << "the slowloris got an echo";
      gone = !(!r && r.error() == errc::timed_out);
    }
    if (gone) slowloris_reset_after = std::chrono::steady_clock::now() - start;
  }
  // Never before the timeout; after it, by the server's eighth plus a tick and
  // this test's scheduling (generous: a slowloris not reset at all is the bug).
  EXPECT_GE(*slowloris_reset_after, options.idle_timeout);
  EXPECT_LE(*slowloris_reset_after, 2 * options.idle_timeout)
      << std::chrono::duration_cast<std::chrono::milliseconds>(*slowloris_reset_after).count() << " ms";
  // The steady client completed a frame every 4 ticks: served throughout, still open.
  if (tick % 4 != 0) {
    ASSERT_TRUE(steady->send_all(std::span(empty_frame).subspan(tick % 4), 2s));  // the last frame's rest
  }
  std::vector<std::byte> replies(4 * ((tick + 3) / 4));  // every frame's echo: 4 bytes of length, no payload
  ASSERT_TRUE(steady->recv_exact(replies, 2s));
  EXPECT_TRUE(echo_once(*steady, bytes_of("still open")));
  EXPECT_EQ(server->stats().closed_by_timeout, 1u);
}

TEST_P(ServerOn, ASlowReaderOfALongReplyIsNotResetWhileItKeepsTakingBytes) {
  ServerOptions options;
  options.idle_timeout = 300ms;
  auto server = echo("unix:" + dir_.file("download.sock"), options);
  ASSERT_TRUE(server);
  auto c = connect(server->local_address(), 2s);
  ASSERT_TRUE(c);
  // One message in, then ~1 MB out, taken 64 KiB every 30 ms: about 0.5 s, longer
  // than the timeout, with no message in meanwhile. The server's writes are its
  // progress. (A Unix socket buffers ~200 KiB, so the reads pace the writes.)
  Buffer wire;
  ASSERT_TRUE(encode(Framing::length_prefix(), test::random_bytes(1'000'000, 5), wire));
  ASSERT_TRUE(c->send_all(wire.readable(), 5s));
  std::vector<std::byte> back(wire.size());
  std::size_t got = 0;
  while (got < back.size()) {
    std::this_thread::sleep_for(30ms);
    auto n =
        c->recv_some(std::span(back).subspan(got, std::min<std::size_t>(64 * 1024, back.size() - got)), 2s);
    ASSERT_TRUE(n && *n > 0) << "reset after " << got << " of " << back.size() << " bytes";
    got += *n;
  }
  EXPECT_TRUE(std::equal(back.begin(), back.end(), wire.readable().begin()));
  EXPECT_TRUE(echo_once(*c, bytes_of("still open")));
  EXPECT_EQ(server->stats().closed_by_timeout, 0u);
}

TEST_P(ServerOn, CloseReasonsTellAProtocolErrorFromAReset) {
  auto server = echo("tcp://127.0.0.1:0");
  ASSERT_TRUE(server);
  auto bad = connect(server->local_address(), 2s);
  ASSERT_TRUE(bad);
  const std::array<std::byte, 4> huge{std::byte{0x7f}, std::byte{0xff}, std::byte{0xff}, std::byte{0xff}};
  ASSERT_TRUE(bad->send_all(huge, 2s));
  EXPECT_TRUE(closed_without_echo(*bad));
  ASSERT_TRUE(wait_for([&] { return server->stats().closed_by_protocol_error == 1; }));
  // A reset by the peer is an error, not the peer's protocol fault.
  auto resetting = connect(server->local_address(), 2s);
  ASSERT_TRUE(resetting);
  ASSERT_TRUE(echo_once(*resetting, bytes_of("then RST")));
  const linger hard_reset{1, 0};
  ASSERT_EQ(::setsockopt(resetting->native_handle(), SOL_SOCKET, SO_LINGER, &hard_reset, sizeof hard_reset),
            0);
  resetting->close();
  ASSERT_TRUE(wait_for([&] { return server->stats().closed_by_error == 1; }));
  EXPECT_EQ(server->stats().closed_by_protocol_error, 1u);
  EXPECT_EQ(server->stats().closed_by_peer, 0u);
}

TEST_P(ServerOn, AnOnCloseSetByTheHandlerRunsAfterTheServersBookkeeping) {
  std::atomic<int> closes{0};
  std::atomic<std::uint64_t> active_seen{99};
  Server* self = nullptr;
  ServerOptions options;
  options.backend = GetParam();
  auto server = Server::create(parse("tcp://127.0.0.1:0"), options, [&](Connection& c) {
    c.on_close([&](Connection&, std::error_code) {
      active_seen = self->stats().active;
      ++closes;
    });
  });
  ASSERT_TRUE(server) << server.error().message();
  self = server->get();
  ASSERT_TRUE((*server)->start());
  auto c = connect((*server)->local_address(), 2s);
  ASSERT_TRUE(c);
  ASSERT_TRUE(wait_for([&] { return (*server)->stats().active == 1; }));
  c->close();
  ASSERT_TRUE(wait_for([&] { return closes == 1; }));
  EXPECT_EQ(active_seen, 0u);
  EXPECT_EQ((*server)->stats().closed_by_peer, 1u);
}

TEST_P(ServerOn, GracefulShutdownUnderLoadDeliversEveryReplyToAMessageTheServerRead) {
  ServerOptions options;
  options.threads = 2;
  // A small high-water mark: each client's replies back up (it is still sending,
  // not reading) and reading it pauses, so at shutdown every connection has output
  // queued in the server and requests in flight towards it.
  options.connection.high_water_mark = 32 * 1024;
  options.connection.low_water_mark = 8 * 1024;
  // Connections whose reading is paused now: no client reads before the shutdown,
  // so in the end every one is paused for good (its socket full, its queue above
  // the low mark).
  auto paused = std::make_shared<std::atomic<int>>(0);
  auto server = echo("unix:" + dir_.file("load.sock"), options, /*start=*/true, [paused](Connection& c) {
    c.on_backpressure([paused](Connection&, bool above) { *paused += above ? 1 : -1; });
  });
  ASSERT_TRUE(server);
  constexpr int kClients = 20, kFrames = 1000;
  constexpr std::size_t kPayload = 1024, kFrameBytes = 4 + kPayload;  // ~1 MB per client
  struct Client {
    StreamSocket socket;
    std::size_t replies = 0;
    bool in_order = true;
  };
  std::vector<Client> clients(kClients);
  // The clients read nothing before the shutdown begins: every connection has
  // replies queued then, whatever the backend reads ahead.
  std::atomic<bool> shutting_down{false};
  for (auto& c : clients) {
    auto s = connect(server->local_address(), 2s);
    ASSERT_TRUE(s) << s.error().message();
    c.socket = std::move(*s);
  }
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&c = clients[i], &shutting_down, i] {
      // Each payload starts with its frame number: the replies are checked in order.
      Buffer wire;
      std::vector<std::byte> payload(kPayload, static_cast<std::byte>(i));
      for (std::uint32_t f = 0; f < kFrames; ++f) {
        std::memcpy(payload.data(), &f, sizeof f);
        if (!encode(Framing::length_prefix(), payload, wire)) return;
      }
      // Where the server stops reading, blocks until shutdown reads (and drops) the rest.
      (void)c.socket.send_all(wire.readable(), 10s);
      while (!shutting_down) std::this_thread::sleep_for(1ms);
      std::vector<std::byte> reply(kFrameBytes);
      while (c.socket.recv_exact(reply, 10s)) {
        std::uint32_t f = 0;
        std::memcpy(&f, reply.data() + 4, sizeof f);
        if (f != c.replies) c.in_order = false;
        ++c.replies;
      }
      c.socket.close();  // the server's close waits for our FIN
    });
  }
  // Every connection stalled: nothing more is read until shutdown.
  // (EXPECT, not ASSERT, while the client threads run: the shutdown below ends them.)
  EXPECT_TRUE(wait_for([&] { return server->stats().active == kClients; }));
  EXPECT_TRUE(wait_for([&] { return paused->load() == kClients; }, 30s)) << paused->load() << " paused";
  const ServerStats before = server->stats();
  EXPECT_GT(before.messages_out * kFrameBytes, before.bytes_out) << "replies are queued at shutdown";
  EXPECT_LT(before.messages_in, std::uint64_t{kClients} * kFrames) << "requests are in flight at shutdown";
  const auto shutdown_began = std::chrono::steady_clock::now();
  shutting_down = true;
  server->shutdown(5s);
  const auto shutdown_took = std::chrono::steady_clock::now() - shutdown_began;
  for (auto& t : threads) t.join();

  const ServerStats after = server->stats();
  std::uint64_t replies = 0;
  for (int i = 0; i < kClients; ++i) {
    EXPECT_TRUE(clients[i].in_order) << "client " << i;
    replies += clients[i].replies;
  }
  EXPECT_EQ(replies, after.messages_in)
      << "every message the server read was answered, and the answer arrived";
  EXPECT_EQ(after.messages_out, after.messages_in);
  EXPECT_GE(after.messages_in, before.messages_in);
  EXPECT_EQ(after.closed_by_server, std::uint64_t{kClients});
  EXPECT_EQ(after.active, 0u);
  EXPECT_LT(shutdown_took, 5s) << "closed gracefully, not reset at the deadline";
}

TEST_P(ServerOn, ReportsTheBackendAndTheFallbacksItsLoopsReport) {
  // A server's worker loops each stay on one thread (io_uring_single_thread).
  auto loop = event::EventLoop::create({.backend = GetParam(), .io_uring_single_thread = true});
  ASSERT_TRUE(loop);
  auto server = echo("tcp://127.0.0.1:0");
  ASSERT_TRUE(server);
  EXPECT_EQ(server->backend(), (*loop)->backend().name);
  EXPECT_EQ(server->backend_fallbacks(), (*loop)->backend().fallbacks);
}

INSTANTIATE_TEST_SUITE_P(Backends, ServerOn, ::testing::ValuesIn(test::backends_under_test()),
                         test::backend_param_name);

}  // namespace
}  // namespace sockit::net
