// The hostile-client battery, output and teardown: clients that never read what
// the server writes, that reset mid-frame, that half-close while the server still
// writes; and a Unix client whose uid is not allowed. Per backend; the server runs
// in a child process and is measured from outside (hostile_fixture.hpp).
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <thread>
#include <vector>

#include "hostile/hostile_fixture.hpp"
#include "support/bytes.hpp"
#include "support/peer_closed.hpp"

namespace sockit::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using net::Connection;
using net::Framing;
using net::ServerOptions;
using net::ServerStats;

// Frames are echoed, except a request of exactly kLargeRequest bytes, which asks
// for a 256 KiB reply (its first byte repeated), so a client that asks and never
// reads makes the server write. The request is longer than any message of the
// well-behaved client (at most 2,048 bytes), so its echoes are never mistaken for
// one (a one-byte request once was: the good client's 4,302nd message, 1 byte long,
// got the large reply).
constexpr std::size_t kReply = 256 * 1024;
constexpr std::size_t kLargeRequest = 3000;
void echo_or_reply_large(Connection& c) {
  c.on_message([](Connection& self, std::span<const std::byte> m) {
    if (m.size() != kLargeRequest) {
      (void)self.send(m);
      return;
    }
    // One buffer per worker thread, reused: the handler's own allocations would
    // otherwise be measured too (and under ASan kept in its 256 MiB quarantine).
    thread_local std::vector<std::byte> reply;
    reply.assign(kReply, m[0]);
    (void)self.send(reply);  // refused beyond max_output_bytes: the bound under test
  });
}

std::vector<std::byte> frame(std::span<const std::byte> payload) {
  net::Buffer wire;
  EXPECT_TRUE(net::encode(Framing::length_prefix(), payload, wire));
  return {wire.readable().begin(), wire.readable().end()};
}

// The server must bound what it buffers for clients that never read: 20 clients
// each ask for 64 replies of 256 KiB (16 MiB each, 320 MiB in all) and read
// nothing. Each connection's queue stops at max_output_bytes (1 MiB; reading
// pauses above the 512 KiB high-water mark), so RSS grows by less than 20 x 1 MiB
// plus the replies being built: bound 64 MiB, where unbounded queues would need
// 320 MiB. The well-behaved client (echo frames) is served meanwhile by the same
// single worker loop.
TEST_P(Hostile, ClientsThatNeverReadAreHeldUnderTheOutputBoundWhileTheGoodClientIsServed) {
  ServerOptions options;
  options.connection.framing = Framing::length_prefix();
  options.connection.high_water_mark = 512 * 1024;
  options.connection.low_water_mark = 128 * 1024;
  options.connection.max_output_bytes = 1 << 20;
  // Small frames (the good client's) are echoed; a one-byte request asks for a large reply.
  auto server = serve("unix:@" + unique_abstract_name(), options, echo_or_reply_large);
  ASSERT_TRUE(server);
  WellBehavedClient good(server->address());
  ASSERT_TRUE(good.wait_for_round_trips(1));
  const Measurement measured(server->pid());
  const auto started = Clock::now();

  constexpr int kClients = 20, kRequests = 64;
  std::vector<StreamSocket> sinks;
  std::vector<std::byte> requests;
  for (int r = 0; r < kRequests; ++r) {
    const std::vector<std::byte> request(kLargeRequest, std::byte{'r'});
    const auto f = frame(request);
    requests.insert(requests.end(), f.begin(), f.end());
  }
  for (int i = 0; i < kClients; ++i) {
    auto c = connect(server->address(), 5s);
    ASSERT_TRUE(c);
    ASSERT_TRUE(c->send_all(requests, 5s)) << "client " << i;  // 320 bytes: fits any socket buffer
    sinks.push_back(std::move(*c));
  }
  // Every request read (a paused connection has read them already: they came in
  // one chunk) and answered as far as the bound allows.
  const auto stats = server->stats_when(
      [&](const ServerStats& s) { return s.messages_in >= std::uint64_t{kClients} * kRequests; });
  ASSERT_TRUE(stats);
  EXPECT_GE(stats->messages_in, std::uint64_t{kClients} * kRequests);
  ASSERT_TRUE(good.wait_for_round_trips(good.round_trips() + 20)) << "served while the sinks hold their queues";
  EXPECT_EQ(server->stats()->active, std::uint64_t{kClients} + 1) << "nobody was dropped";
  sinks.clear();
  conclude("20 clients x 64 requests for 256 KiB replies, never reading (Unix)", 64 << 10, kClients + 8, started,
           measured, good);
  EXPECT_EQ(server->stop(), 0);
}

// The server must take a reset in the middle of a frame (SO_LINGER 0 close after
// half a frame) as that peer's end, counted as an error, with nothing delivered
// and nothing leaked; and must stop writing to a peer that half-closed while its
// large reply was still being written, then close it. 50 peers each way.
TEST_P(Hostile, AResetMidFrameAndAHalfCloseDuringALargeReplyEndOnlyThosePeers) {
  ServerOptions options;
  options.connection.framing = Framing::length_prefix();
  auto server = serve("tcp://127.0.0.1:0", options, echo_or_reply_large);
  ASSERT_TRUE(server);
  WellBehavedClient good(server->address());
  ASSERT_TRUE(good.wait_for_round_trips(1));
  const Measurement measured(server->pid());
  const auto started = Clock::now();

  constexpr int kPeers = 50;
  // Resets mid-frame: a 4 KiB frame cut after 2 KiB.
  for (int i = 0; i < kPeers; ++i) {
    auto c = connect(server->address(), 5s);
    ASSERT_TRUE(c);
    const auto f = frame(random_bytes(4096, i));
    ASSERT_TRUE(c->send_all(std::span(f).first(2048), 5s));
    ASSERT_TRUE(c->set_linger(std::chrono::seconds(0)));
    c->close();
  }
  auto stats = server->stats_when([](const ServerStats& s) { return s.closed_by_error >= kPeers; });
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->closed_by_error, std::uint64_t{kPeers}) << "each reset peer counted as an error";
  // Half-closes: ask for a 256 KiB reply, read 1 KiB of it, shut down writing.
  // The server may finish writing (the reply fits loopback buffers) or not; the
  // peer must then be closed, and the client sees its reply intact up to the close.
  std::vector<StreamSocket> halves;
  for (int i = 0; i < kPeers; ++i) {
    auto c = connect(server->address(), 5s);
    ASSERT_TRUE(c);
    const std::vector<std::byte> request(kLargeRequest, static_cast<std::byte>('a' + i % 26));
    ASSERT_TRUE(c->send_all(frame(request), 5s));
    std::array<std::byte, 1024> b{};
    ASSERT_TRUE(c->recv_exact(b, 5s));
    ASSERT_TRUE(c->shutdown(ShutdownHow::write));
    halves.push_back(std::move(*c));
  }
  for (int i = 0; i < kPeers; ++i) {
    std::array<std::byte, 64 * 1024> b{};
    std::size_t got = 1024;
    for (;;) {
      auto n = halves[i].recv_some(b, 5s);
      if (!n || *n == 0) {
        ASSERT_TRUE(closed_by_peer(n)) << "half-closed peer " << i << " was never closed";
        break;
      }
      for (std::size_t k = 0; k < *n; ++k) {
        ASSERT_EQ(b[k], static_cast<std::byte>('a' + i % 26)) << "peer " << i << " byte " << got + k;
      }
      got += *n;
    }
    EXPECT_LE(got, kReply + 4);
  }
  stats = server->stats_when([](const ServerStats& s) { return s.active == 1; });
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->active, 1u) << "only the good client is left";
  EXPECT_EQ(stats->closed_by_protocol_error, 0u);
  const int baseline = measured.held().baseline_fds;
  halves.clear();
  conclude("50 peers reset mid-frame + 50 half-closing during a 256 KiB reply (TCP)", 32 << 10, kPeers + 8,
           started, measured, good);
  EXPECT_TRUE(fd_count_falls_to(server->pid(), baseline));
  EXPECT_EQ(server->stop(), 0);
}

// The server must refuse a Unix peer whose uid is not allowed before reading a
// byte: a child process that became uid 65534 connects (to a socket in a
// directory it may enter) and sends a frame; the server closes it unread
// (refused_policy, bytes_in unchanged) while the allowed well-behaved client
// (root) is served. 20 such peers. Needs root to change uid: a skip otherwise.
TEST_P(Hostile, AUnixPeerWithADisallowedUidIsRefusedBeforeAnyByteIsRead) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run a client under another uid";
  TempDir dir;
  ASSERT_EQ(::chmod(dir.path().c_str(), 0755), 0);
  ServerOptions options;
  options.connection.framing = Framing::length_prefix();
  options.allowed_uids = {0};
  options.listen.unix_file.mode = 0666;
  auto server = serve("unix:" + dir.file("policy.sock"), options);
  ASSERT_TRUE(server);
  WellBehavedClient good(server->address());
  ASSERT_TRUE(good.wait_for_round_trips(1));
  const auto before = server->stats();
  ASSERT_TRUE(before);
  const Measurement measured(server->pid());
  const auto started = Clock::now();

  constexpr int kPeers = 20;
  const Address address = server->address();
  for (int i = 0; i < kPeers; ++i) {
    // Exit status: 0 closed unread, 1 setuid failed, 2 connect failed, 3 served, 4 hung.
    Child stranger([&] {
      if (::setgid(65534) != 0 || ::setuid(65534) != 0) return 1;
      auto c = connect(address, 5s);
      if (!c) return 2;
      const std::array<std::byte, 6> f{std::byte{0}, std::byte{0}, std::byte{0}, std::byte{2}, std::byte{'h'},
                                       std::byte{'i'}};
      (void)c->send_all(f, 5s);
      std::array<std::byte, 6> b{};
      auto r = c->recv_some(b, 5s);
      if (r && *r > 0) return 3;
      return closed_by_peer(r) ? 0 : 4;
    });
    ASSERT_EQ(stranger.wait(10s), 0) << "0: closed unread; 1: setuid; 2: connect; 3: served; 4: hung";
  }
  const auto stats = server->stats_when([](const ServerStats& s) { return s.refused_policy >= kPeers; });
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->refused_policy, std::uint64_t{kPeers});
  EXPECT_EQ(stats->accepted, before->accepted) << "refused, not admitted";
  const WellBehavedResult served =
      conclude("20 peers under uid 65534, allowed_uids {0} (Unix path)", 8 << 10, 8, started, measured, good);
  const auto after = server->stats();
  ASSERT_TRUE(after);
  EXPECT_EQ(after->bytes_in, served.bytes_verified) << "every byte read came from the well-behaved client";
  EXPECT_EQ(server->stop(), 0);
}

INSTANTIATE_TEST_SUITE_P(Backends, Hostile, ::testing::ValuesIn(backends_under_test()), backend_param_name);

}  // namespace
}  // namespace sockit::test
