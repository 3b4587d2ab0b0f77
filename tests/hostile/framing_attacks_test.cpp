// The hostile-client battery, framing: peers that lie about frame lengths, split
// them, send noise, or dribble a raw stream byte by byte. Per backend; the server
// runs in a child process and is measured from outside (hostile_fixture.hpp).
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <array>
#include <algorithm>
#include <cstring>
#include <optional>
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

// Reads until the peer closes (end of stream or reset), `limit` at most. nullopt:
// the peer neither closed nor spoke for that long.
std::optional<std::vector<std::byte>> read_until_closed(StreamSocket& s, std::chrono::milliseconds limit) {
  std::vector<std::byte> got;
  std::array<std::byte, 16384> b{};
  const Deadline deadline(limit);
  for (;;) {
    auto n = s.recv_some(b, deadline);
    if (n && *n > 0) {
      got.insert(got.end(), b.begin(), b.begin() + static_cast<std::ptrdiff_t>(*n));
      continue;
    }
    if (!closed_by_peer(n)) return std::nullopt;
    return got;
  }
}

// The server must survive noise on a framed port: 16 peers each send 64 KiB of
// seeded random bytes and half-close. Each is closed (a length prefix mostly
// declares more than max_frame) or served and then closed at its end of stream,
// within 5 s; with line framing every complete line comes back intact and in
// order. Run with length-prefix and line framing. Bound: RSS +16 MiB.
TEST_P(Hostile, RandomBytesOnAFramedPortAreClosedOrServedNeverACrashAndMemoryStaysBounded) {
  for (const Framing framing : {Framing::length_prefix(), Framing::line()}) {
    const bool lines = framing.kind == Framing::Kind::line;
    SCOPED_TRACE(lines ? "line framing" : "length-prefix framing");
    ServerOptions options;
    options.connection.framing = framing;
    auto server = serve("tcp://127.0.0.1:0", options);
    ASSERT_TRUE(server);
    WellBehavedClient good(server->address(), {.framing = framing});
    ASSERT_TRUE(good.wait_for_round_trips(1));
    const Measurement measured(server->pid());
    const auto started = std::chrono::steady_clock::now();

    constexpr int kPeers = 16;
    constexpr std::size_t kNoise = 64 * 1024;
    std::vector<StreamSocket> peers;
    std::vector<std::vector<std::byte>> sent;
    for (int i = 0; i < kPeers; ++i) {
      auto c = connect(server->address(), 5s);
      ASSERT_TRUE(c) << c.error().message();
      sent.push_back(random_bytes(kNoise, 1000 + i));
      (void)c->send_all(sent.back(), 5s);  // may meet the reset of a peer already closed
      (void)c->shutdown(ShutdownHow::write);
      peers.push_back(std::move(*c));
    }
    std::size_t echoed = 0;
    for (int i = 0; i < kPeers; ++i) {
      const auto back = read_until_closed(peers[i], 5s);
      ASSERT_TRUE(back) << "peer " << i << " was neither closed nor finished";
      echoed += back->size();
      if (lines) {
        // Every complete line, and nothing else (a 64 KiB line limit is never reached).
        const auto last = std::find(sent[i].rbegin(), sent[i].rend(), std::byte{'\n'});
        const std::size_t complete = static_cast<std::size_t>(sent[i].rend() - last);
        EXPECT_EQ(back->size(), complete) << "peer " << i;
        EXPECT_TRUE(std::equal(back->begin(), back->end(), sent[i].begin())) << "peer " << i;
      }
    }
    const auto stats = server->stats_when([](const ServerStats& s) { return s.active == 1; });
    ASSERT_TRUE(stats) << "the server answers";
    EXPECT_EQ(stats->active, 1u) << "only the well-behaved client is left";
    peers.clear();
    conclude(std::string("16 peers x 64 KiB random bytes, ") + (lines ? "line" : "length-prefix") + " framing, " +
                 std::to_string(echoed) + " bytes echoed (TCP)",
             16 << 10, kPeers + 4, started, measured, good);
    EXPECT_EQ(server->stop(), 0);
  }
}

// The server must echo a raw stream written one byte per send (TCP_NODELAY: one
// segment each, so it reads tiny chunks) byte for byte. Scaled from the issue's
// 1 GiB to 1 MiB for a 2-core CI machine (the rate is in the report line); a
// reader thread checks the echo as it comes. Bound: RSS +16 MiB.
TEST_P(Hostile, ManyOneByteWritesOnARawPortAreAllEchoedByteExact) {
  ServerOptions options;
  options.connection.framing = Framing::raw();
  auto server = serve("tcp://127.0.0.1:0", options);
  ASSERT_TRUE(server);
  WellBehavedClient good(server->address(), {.framing = Framing::raw()});
  ASSERT_TRUE(good.wait_for_round_trips(1));
  auto dribbler = connect(server->address(), 5s);
  ASSERT_TRUE(dribbler);
  ASSERT_TRUE(dribbler->set_no_delay(true));
  constexpr std::size_t kBytes = 1024 * 1024;
  const auto stream = random_bytes(kBytes, 7);
  std::string reader_error;
  std::size_t verified = 0;
  const Measurement measured(server->pid());
  const auto started = std::chrono::steady_clock::now();
  std::thread reader([&] {
    std::vector<std::byte> b(kBytes);
    while (verified < kBytes) {
      auto n = dribbler->recv_some(std::span(b).subspan(verified), 10s);
      if (!n || *n == 0) {
        reader_error = n ? "closed" : n.error().message();
        return;
      }
      if (!std::equal(b.begin() + verified, b.begin() + verified + *n, stream.begin() + verified)) {
        reader_error = "the echo differs near byte " + std::to_string(verified);
        return;
      }
      verified += *n;
    }
  });
  std::size_t written = 0;
  for (; written < kBytes; ++written) {
    if (!dribbler->send_all(std::span(stream).subspan(written, 1), 10s)) break;
  }
  reader.join();
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(written, kBytes);
  EXPECT_EQ(reader_error, "");
  EXPECT_EQ(verified, kBytes);
  const double seconds = std::chrono::duration<double>(took).count();
  dribbler->close();
  conclude("1 MiB in 1-byte writes, TCP_NODELAY (" + std::to_string(static_cast<int>(kBytes / seconds)) +
               " writes/s echoed)",
           16 << 10, 4, started, measured, good);
  EXPECT_EQ(server->stop(), 0);
}

INSTANTIATE_TEST_SUITE_P(Backends, Hostile, ::testing::ValuesIn(backends_under_test()), backend_param_name);

}  // namespace
}  // namespace sockit::test
