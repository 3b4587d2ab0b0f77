// The hostile-client battery, framing: peers that lie about frame lengths, split
// them, send noise, or dribble a raw stream byte by byte. Per backend; the server
// runs in a child process and is measured from outside (hostile_fixture.hpp).
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

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
using net::Framing;
using net::ServerOptions;
using net::ServerStats;

std::array<std::byte, 4> length_prefix(std::uint32_t length) {
  return {std::byte(length >> 24), std::byte(length >> 16), std::byte(length >> 8), std::byte(length)};
}

// The server must close a peer that declares a frame over max_frame (the default,
// 16 MiB) as soon as it has read the length, count it as a protocol error and
// allocate nothing of the declared size. Declared: 16 MiB + 1, 2 GiB and 4 GiB - 1
// (the most a 4-byte prefix can say), 20 peers each, all connected at once. Bound:
// RSS grows by less than 16 MiB, and the address space (VmPeak) by less than
// 256 MiB, so even an untouched reservation of one declared frame fails the case.
TEST_P(Hostile, ADeclaredFourGiBFrameClosesThatPeerCountedAsAProtocolErrorWithNothingLargeAllocated) {
  ServerOptions options;
  options.connection.framing = Framing::length_prefix();
  auto server = serve("tcp://127.0.0.1:0", options);
  ASSERT_TRUE(server);
  WellBehavedClient good(server->address());
  ASSERT_TRUE(good.wait_for_round_trips(1));
  const Measurement measured(server->pid());
  const auto started = std::chrono::steady_clock::now();

  constexpr int kPerLength = 20;
  const std::array<std::uint32_t, 3> declared{(16u << 20) + 1, 1u << 31, 0xffffffffu};
  std::vector<StreamSocket> liars;
  for (const std::uint32_t length : declared) {
    for (int i = 0; i < kPerLength; ++i) {
      auto c = connect(server->address(), 5s);
      ASSERT_TRUE(c) << c.error().message();
      // The length and the start of its payload. A send may already meet the
      // server's reset; what counts is the close below.
      std::vector<std::byte> wire(4 + 1000, std::byte{'p'});
      std::memcpy(wire.data(), length_prefix(length).data(), 4);
      (void)c->send_all(wire, 5s);
      liars.push_back(std::move(*c));
    }
  }
  for (std::size_t i = 0; i < liars.size(); ++i) {
    std::array<std::byte, 64> b{};
    EXPECT_TRUE(closed_by_peer(liars[i].recv_some(b, 5s))) << "liar " << i;
  }
  const std::uint64_t kLiars = liars.size();
  const auto stats = server->stats_when([&](const ServerStats& s) { return s.closed_by_protocol_error >= kLiars; });
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->closed_by_protocol_error, kLiars);
  EXPECT_EQ(stats->closed_by_error, 0u) << "each liar counted once, as a protocol error";
  liars.clear();

  const Measurement::Held held = measured.held();
  EXPECT_LT(held.address_space_growth_kib, 256 << 10) << "address space grew by " << held.address_space_growth_kib
                                                      << " KiB: something of a declared size was reserved";
  conclude("60 peers declaring 16 MiB+1, 2 GiB, 4 GiB-1 frames (TCP)", 16 << 10, static_cast<int>(kLiars) + 4,
           started, measured, good);
  EXPECT_TRUE(fd_count_falls_to(server->pid(), held.baseline_fds)) << "descriptors back to the baseline";
  EXPECT_EQ(server->stop(), 0);
}

// The server must decode a length prefix that arrives one byte per segment (TCP
// with TCP_NODELAY, 1 ms between bytes; Unix: one write per byte) exactly as one
// that arrives whole: 8 peers x 8 frames of 0..300 bytes, prefix and the first
// payload bytes dribbled, every echo verified byte for byte. Bound: RSS +8 MiB.
TEST_P(Hostile, ALengthPrefixSplitOneBytePerSegmentIsDecodedExactly) {
  for (const std::string& address : {std::string("tcp://127.0.0.1:0"), "unix:@" + unique_abstract_name()}) {
    SCOPED_TRACE(address);
    ServerOptions options;
    options.connection.framing = Framing::length_prefix(1 << 20);
    auto server = serve(address, options);
    ASSERT_TRUE(server);
    WellBehavedClient good(server->address());
    ASSERT_TRUE(good.wait_for_round_trips(1));
    const Measurement measured(server->pid());
    const auto started = std::chrono::steady_clock::now();

    constexpr int kPeers = 8, kFrames = 8;
    std::vector<StreamSocket> peers;
    for (int i = 0; i < kPeers; ++i) {
      auto c = connect(server->address(), 5s);
      ASSERT_TRUE(c) << c.error().message();
      if (server->address().is_inet()) {
        ASSERT_TRUE(c->set_no_delay(true));
      }
      peers.push_back(std::move(*c));
    }
    std::uint64_t echoed = 0;
    for (int f = 0; f < kFrames; ++f) {
      std::vector<std::vector<std::byte>> wires;
      for (int p = 0; p < kPeers; ++p) {
        net::Buffer wire;
        const auto payload = random_bytes(static_cast<std::size_t>((f * 37 + p * 11) % 301), f * 100 + p);
        ASSERT_TRUE(net::encode(options.connection.framing, payload, wire));
        wires.emplace_back(wire.readable().begin(), wire.readable().end());
      }
      // The first 6 bytes one at a time, across the peers in turn, then the rest.
      for (std::size_t byte = 0; byte < 6; ++byte) {
        for (int p = 0; p < kPeers; ++p) {
          if (byte < wires[p].size()) {
            ASSERT_TRUE(peers[p].send_all(std::span(wires[p]).subspan(byte, 1), 5s));
          }
        }
        std::this_thread::sleep_for(1ms);  // the load: each byte its own segment
      }
      for (int p = 0; p < kPeers; ++p) {
        if (wires[p].size() > 6) {
          ASSERT_TRUE(peers[p].send_all(std::span(wires[p]).subspan(6), 5s));
        }
        std::vector<std::byte> back(wires[p].size());
        ASSERT_TRUE(peers[p].recv_exact(back, 5s)) << "peer " << p << " frame " << f;
        EXPECT_EQ(back, wires[p]) << "peer " << p << " frame " << f;
        echoed += back.size();
      }
    }
    peers.clear();
    conclude("8 peers x 8 frames, prefix 1 byte per segment, " + std::to_string(echoed) + " bytes echoed (" +
                 (server->address().is_inet() ? "TCP" : "Unix") + ")",
             8 << 10, kPeers + 4, started, measured, good);
    EXPECT_EQ(server->stop(), 0);
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, Hostile, ::testing::ValuesIn(backends_under_test()), backend_param_name);

}  // namespace
}  // namespace sockit::test
