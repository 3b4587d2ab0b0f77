// Reliable UDP against a hostile or broken network, in simulated time: forged
// and malformed packets of every kind are dropped and counted and change
// nothing; a spoofed-source handshake flood leaves the server without per-peer
// state; a forged huge fragment allocates nothing large; the endpoint's
// reassembly bound holds; a dead peer is reported as errc::peer_dead within the
// idle timeout; a stale or forged CLOSE cannot end a connection.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "rudp/packet.hpp"
#include "support/rudp_network.hpp"

namespace sockit::rudp {
namespace {

using namespace std::chrono_literals;
using test::RudpPair;
using test::SimFaults;
using Bytes = std::vector<std::byte>;

Bytes data_packet(std::uint64_t destination, std::uint32_t pn, const std::function<void(ByteWriter&)>& frames) {
  Bytes out(1500);
  ByteWriter w(out);
  wire::encode_header(wire::Header{wire::PacketType::data, destination, pn}, w);
  frames(w);
  out.resize(w.size());
  return out;
}

bool has_close_frame(std::span<const std::byte> packet) {
  auto h = wire::decode_header(packet);
  if (!h || h->type != wire::PacketType::data) return false;
  wire::FrameReader r(packet.subspan(wire::kHeaderSize));
  wire::Frame f;
  while (r.next(f)) {
    if (f.type == wire::FrameType::close) return true;
  }
  return false;
}

// Sends one message each way and checks it arrives: the connection still works.
void expect_working(RudpPair& pair) {
  const Bytes ping(100, std::byte{0x5a});
  ASSERT_TRUE(pair.client_connection->send(ping, 0).has_value());
  std::optional<Message> got;
  ASSERT_TRUE(pair.net->run_until([&] { return (got = pair.server_connection->receive()).has_value(); }, 10s));
  EXPECT_TRUE(got->data == ping);
  EXPECT_EQ(pair.server_connection->state(), ConnectionState::established);
}

TEST(RudpHostile, MalformedPacketsOfEveryKindAreDroppedAndCounted) {
  RudpPair pair({}, {}, SimFaults{}, 11);
  ASSERT_TRUE(pair.handshake());
  expect_working(pair);  // channel 0 is now known as reliable-ordered
  const std::uint64_t id = pair.server_connection->id();
  const auto client_address = pair.net->address(0);
  const Bytes four(4, std::byte{1});

  std::vector<Bytes> malformed = {
      Bytes{},                                                   // empty datagram
      Bytes(5, std::byte{0x13}),                                 // shorter than a header
      data_packet(id, 1000, [](ByteWriter&) {}),                 // DATA without frames
      data_packet(id, 1001, [](ByteWriter& w) { w.u8(0x7f); }),  // unknown frame
      data_packet(id, 1002, [](ByteWriter& w) { w.u8(0x02); w.u32(1'000'000); w.u16(0); w.u8(0); w.u32(0); }),  // ACK of an unsent packet
      data_packet(id, 1003, [](ByteWriter& w) { w.u8(0x02); w.u32(1); w.u16(0); w.u8(0); w.u32(5); }),  // ACK range below 0
      data_packet(id, 1004, [&](ByteWriter& w) { wire::encode_fragment(DeliveryMode::reliable_ordered, 200, 0, 0, 4, four, w); }),  // no such channel
      data_packet(id, 1005, [&](ByteWriter& w) { wire::encode_fragment(DeliveryMode::unreliable, 0, 1, 0, 4, four, w); }),  // mode differs from channel 0's
      data_packet(id, 1006, [&](ByteWriter& w) { wire::encode_fragment(DeliveryMode::reliable_ordered, 1, 0, 0, 32u << 20, four, w); }),  // above max_message
      data_packet(id, 1007, [&](ByteWriter& w) { wire::encode_fragment(DeliveryMode::reliable_ordered, 1, 1u << 20, 0, 4, four, w); }),  // message id far ahead
      data_packet(id, 1008, [](ByteWriter& w) { w.u8(0x10); w.u8(1); w.u32(0); w.u32(2); w.u32(4); w.u16(4); w.u32(0); }),  // past its total
  };
  Bytes bad_version = data_packet(id, 1009, [](ByteWriter& w) { wire::encode_ping(w); });
  bad_version[0] = std::byte{0x23};
  malformed.push_back(bad_version);

  const EndpointStats before = pair.server->stats();
  for (const Bytes& p : malformed) pair.net->inject(1, client_address, p);
  pair.net->run_for(50ms);
  const EndpointStats after = pair.server->stats();
  EXPECT_EQ(after.malformed_packets - before.malformed_packets, malformed.size());
  EXPECT_LE(after.reassembly_bytes, 1024u);

  // Right shape, wrong connection: an unknown id, or the right id from another address.
  const auto stranger = *PeerAddress::from(std::vector<std::byte>(6, std::byte{9}));
  pair.net->inject(1, client_address, data_packet(id ^ 1, 5, [](ByteWriter& w) { wire::encode_ping(w); }));
  pair.net->inject(1, stranger, data_packet(id, 1010, [](ByteWriter& w) { wire::encode_ping(w); }));
  pair.net->run_for(50ms);
  EXPECT_EQ(pair.server->stats().unknown_connection - after.unknown_connection, 2u);
  expect_working(pair);
}

TEST(RudpHostile, AForgedHugeFirstFragmentAllocatesNothingLarge) {
  RudpPair pair({}, {}, SimFaults{}, 12);
  ASSERT_TRUE(pair.handshake());
  const std::uint64_t id = pair.server_connection->id();
  const Bytes piece(1000, std::byte{3});
  // 15 MiB: within max_message, so accepted as the first of many fragments...
  pair.net->inject(1, pair.net->address(0), data_packet(id, 2000, [&](ByteWriter& w) {
    wire::encode_fragment(DeliveryMode::reliable_ordered, 3, 0, 0, 15u << 20, piece, w);
  }));
  // ...and 32 MiB: above it, refused as malformed.
  pair.net->inject(1, pair.net->address(0), data_packet(id, 2001, [&](ByteWriter& w) {
    wire::encode_fragment(DeliveryMode::reliable_ordered, 4, 0, 0, 32u << 20, piece, w);
  }));
  pair.net->run_for(50ms);
  EXPECT_EQ(pair.server->stats().malformed_packets, 1u);
  EXPECT_EQ(pair.server_connection->stats().reassembly_bytes, 1000u + 64u);
  EXPECT_LT(pair.server->stats().reassembly_bytes, 4096u);
}

TEST(RudpHostile, SpoofedHandshakeFloodLeavesNoPerPeerState) {
  EndpointConfig config;
  config.accept = true;
  auto server = std::move(*EndpointCore::create(config));
  std::mt19937_64 rng(99);
  Bytes hello(1200);
  Bytes out(65536);
  const Instant t0{std::chrono::seconds(5000)};
  std::uint64_t forged_cookies = 0;
  std::uint64_t challenges = 0;
  for (int i = 0; i < 100'000; ++i) {
    std::array<std::byte, 6> source;
    for (auto& b : source) b = static_cast<std::byte>(rng());
    wire::Hello h{rng() | 1, 1u << 20, 16u << 20, 5, std::nullopt};
    if (i % 2 == 1) {  // half carry a made-up cookie
      wire::Cookie c;
      for (auto& b : c) b = static_cast<std::byte>(rng());
      h.cookie = c;
      ++forged_cookies;
    }
    ASSERT_EQ(wire::encode_hello(h, 1200, hello), 1200u);
    const Instant now = t0 + std::chrono::microseconds(i * 10);
    server->on_datagram(*PeerAddress::from(source), hello, now);
    // The replies are drained now and then, as a socket would: the ring of
    // pending challenges overflows in between and sheds the excess.
    if (i % 5000 == 0) {
      while (auto t = server->poll_transmit(now, out)) {
        ASSERT_EQ(t->size, wire::kChallengeSize);  // smaller than the 1200-byte HELLO
        ++challenges;
      }
    }
  }
  while (auto t = server->poll_transmit(t0 + 1s, out)) ++challenges;
  const EndpointStats s = server->stats();
  EXPECT_EQ(server->connection_count(), 0u);
  EXPECT_EQ(s.connections_live, 0u);
  EXPECT_EQ(s.connections_accepted, 0u);
  EXPECT_EQ(s.cookies_rejected, forged_cookies);
  EXPECT_EQ(s.reassembly_bytes, 0u);
  // Every HELLO was answered or, while the ring of replies was full, shed.
  EXPECT_EQ(s.challenges_sent, challenges);
  EXPECT_GT(s.challenges_dropped, 0u);
  EXPECT_EQ(s.challenges_sent + s.challenges_dropped, 100'000u);
  EXPECT_FALSE(server->next_timeout().has_value());  // no connection, so no timer either
}

TEST(RudpHostile, AGenuineClientStillConnectsAfterAFlood) {
  RudpPair pair({}, {}, SimFaults{}, 13);
  std::mt19937_64 rng(5);
  Bytes hello(1200);
  for (int i = 0; i < 10'000; ++i) {
    std::array<std::byte, 6> source;
    for (auto& b : source) b = static_cast<std::byte>(rng());
    ASSERT_GT(wire::encode_hello(wire::Hello{rng() | 1, 1u << 20, 16u << 20, 5, std::nullopt}, 1200, hello), 0u);
    pair.server->on_datagram(*PeerAddress::from(source), hello, pair.net->now());
  }
  ASSERT_TRUE(pair.handshake());
  EXPECT_EQ(pair.server->connection_count(), 1u);
  expect_working(pair);
}

TEST(RudpHostile, EndpointReassemblyBoundHoldsAndRefusesPacketsUnacknowledged) {
  EndpointConfig server_config;
  server_config.max_reassembly_bytes = 128u << 10;
  RudpPair pair({}, server_config, SimFaults{}, 14);
  ASSERT_TRUE(pair.handshake());
  const Bytes big(256u << 10, std::byte{1});
  ASSERT_TRUE(pair.client_connection->send(big, 0).has_value());
  std::uint64_t peak = 0;
  pair.net->run_for(3s, [&] { peak = std::max(peak, pair.server->stats().reassembly_bytes); });
  EXPECT_LE(peak, server_config.max_reassembly_bytes);
  EXPECT_GT(peak, server_config.max_reassembly_bytes / 2);
  EXPECT_GT(pair.server->stats().dropped_no_buffer, 0u);
  EXPECT_EQ(pair.server_connection->state(), ConnectionState::established);
}

TEST(RudpHostile, ADeadPeerIsReportedWithinTheIdleTimeout) {
  for (bool busy : {false, true}) {
    SCOPED_TRACE(busy ? "sending when the peer dies" : "idle when the peer dies");
    EndpointConfig config;
    config.connection.idle_timeout = 3s;
    config.connection.keepalive_interval = 1s;
    RudpPair pair(config, config, SimFaults{}, 15);
    ASSERT_TRUE(pair.handshake());
    expect_working(pair);
    pair.net->run_for(5s);  // idle but alive: keepalives keep it open
    ASSERT_FALSE(pair.client_closed.has_value());
    pair.take_events();
    ASSERT_FALSE(pair.client_closed.has_value());

    const Instant cut = pair.net->now();
    pair.net->blackhole(1);  // the server's packets vanish
    if (busy) {
      ASSERT_TRUE(pair.client_connection->send(Bytes(100'000, std::byte{2}), 0).has_value());
    }
    ASSERT_TRUE(pair.net->run_until(
        [&] {
          pair.take_events();
          return pair.client_closed.has_value();
        },
        60s));
    EXPECT_EQ(*pair.client_closed, make_error_code(errc::peer_dead)) << pair.client_closed->message();
    EXPECT_LE(pair.net->now() - cut, config.connection.idle_timeout);
    EXPECT_GE(pair.net->now() - cut, config.connection.idle_timeout - config.connection.keepalive_interval - 100ms);
  }
}

TEST(RudpHostile, AStaleOrForgedCloseCannotEndAConnection) {
  RudpPair pair({}, {}, SimFaults{}, 16);
  std::vector<Bytes> client_closes;
  pair.net->tap = [&](int side, std::span<const std::byte> p) {
    if (side == 0 && has_close_frame(p)) client_closes.emplace_back(p.begin(), p.end());
  };
  ASSERT_TRUE(pair.handshake());
  expect_working(pair);
  pair.client_connection->close(pair.net->now());
  ASSERT_TRUE(pair.net->run_until(
      [&] {
        pair.take_events();
        return pair.client_closed && pair.server_closed;
      },
      30s));
  ASSERT_FALSE(client_closes.empty());
  const Bytes stale_close = client_closes.front();

  // A new connection between the same two addresses.
  pair.client->release(pair.client_connection);
  pair.server->release(pair.server_connection);
  pair.client_connection = pair.server_connection = nullptr;
  pair.opened_client = pair.opened_server = false;
  ASSERT_TRUE(pair.handshake());
  const std::uint64_t id = pair.server_connection->id();
  const EndpointStats before = pair.server->stats();

  // 1. The old connection's CLOSE, replayed: another connection id.
  pair.net->inject(1, pair.net->address(0), stale_close);
  // 2. A forged CLOSE with the right id and a packet number already used.
  pair.net->inject(1, pair.net->address(0), data_packet(id, 0, [](ByteWriter& w) { wire::encode_close(0, w); }));
  // 3. ...and one far beyond any the client can have sent.
  pair.net->inject(1, pair.net->address(0), data_packet(id, 1u << 30, [](ByteWriter& w) { wire::encode_close(0, w); }));
  // 4. ...and one from another address.
  pair.net->inject(1, *PeerAddress::from(Bytes(6, std::byte{7})),
                   data_packet(id, 50, [](ByteWriter& w) { wire::encode_close(0, w); }));
  pair.net->run_for(100ms);
  const EndpointStats after = pair.server->stats();
  EXPECT_EQ(after.unknown_connection - before.unknown_connection, 2u);
  EXPECT_EQ(pair.server_connection->stats().duplicate_packets, 2u);
  EXPECT_EQ(pair.server_connection->state(), ConnectionState::established);
  expect_working(pair);
}

}  // namespace
}  // namespace sockit::rudp
