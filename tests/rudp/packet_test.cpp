// The reliable-UDP building blocks one at a time: the packet codec (round trips
// and every malformed form refused), SipHash against the paper's test vector, the
// cookie (bound to address, client id and time), and the received-packet ranges.
#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <functional>
#include <optional>
#include <vector>

#include "rudp/cookie.hpp"
#include "rudp/message_assembler.hpp"
#include "rudp/packet.hpp"
#include "rudp/received_packets.hpp"
#include "rudp/siphash.hpp"

namespace sockit::rudp {
namespace {

using namespace std::chrono_literals;

std::vector<std::byte> bytes_of(std::initializer_list<int> values) {
  std::vector<std::byte> out;
  for (int v : values) out.push_back(static_cast<std::byte>(v));
  return out;
}

std::vector<std::byte> data_packet(const std::function<void(ByteWriter&)>& frames) {
  std::vector<std::byte> out(1500);
  ByteWriter w(out);
  wire::encode_header(wire::Header{wire::PacketType::data, 0x1122334455667788ULL, 7}, w);
  frames(w);
  EXPECT_FALSE(w.failed());
  out.resize(w.size());
  return out;
}

// Decodes every frame of a DATA packet; nullopt if it is malformed.
std::optional<std::vector<wire::Frame>> frames_of(std::span<const std::byte> packet) {
  auto header = wire::decode_header(packet);
  if (!header) return std::nullopt;
  wire::FrameReader reader(packet.subspan(wire::kHeaderSize));
  std::vector<wire::Frame> frames;
  wire::Frame f;
  while (reader.next(f)) frames.push_back(f);
  if (reader.malformed()) return std::nullopt;
  return frames;
}

TEST(RudpPacket, HeaderRoundTrips) {
  std::array<std::byte, wire::kHeaderSize> buf;
  ByteWriter w(buf);
  wire::encode_header(wire::Header{wire::PacketType::data, 0xdeadbeefcafef00dULL, 0xfffffffe}, w);
  ASSERT_FALSE(w.failed());
  auto h = wire::decode_header(buf);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->type, wire::PacketType::data);
  EXPECT_EQ(h->destination, 0xdeadbeefcafef00dULL);
  EXPECT_EQ(h->packet_number, 0xfffffffeu);
}

TEST(RudpPacket, MalformedHeadersAreRefused) {
  const auto refused = [](std::vector<std::byte> p) {
    auto h = wire::decode_header(p);
    return !h && h.error() == make_error_code(errc::malformed_packet);
  };
  EXPECT_TRUE(refused({}));
  EXPECT_TRUE(refused(bytes_of({0x13, 0, 0, 0})));                            // short
  EXPECT_TRUE(refused(bytes_of({0x23, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0})));  // version 2
  EXPECT_TRUE(refused(bytes_of({0x14, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0})));  // type 4
  EXPECT_TRUE(refused(bytes_of({0x10, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0})));  // type 0
  std::vector<std::byte> short_hello(wire::kMinHelloSize - 1);
  short_hello[0] = std::byte{0x11};
  EXPECT_TRUE(refused(short_hello));  // a HELLO below the size that rules out amplification
  std::vector<std::byte> long_challenge(wire::kChallengeSize + 1);
  long_challenge[0] = std::byte{0x12};
  EXPECT_TRUE(refused(long_challenge));
}

TEST(RudpPacket, HelloRoundTripsPaddedAndRefusesBadFields) {
  wire::Hello hello{0x0102030405060708ULL, 1u << 20, 4u << 20, 5, wire::Cookie{}};
  (*hello.cookie)[0] = std::byte{0x42};
  std::vector<std::byte> out(1200);
  ASSERT_EQ(wire::encode_hello(hello, 1200, out), 1200u);
  auto h = wire::decode_header(out);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->type, wire::PacketType::hello);
  auto decoded = wire::decode_hello(std::span(out).subspan(wire::kHeaderSize));
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->client_id, hello.client_id);
  EXPECT_EQ(decoded->window, hello.window);
  ASSERT_TRUE(decoded->cookie.has_value());
  EXPECT_EQ((*decoded->cookie)[0], std::byte{0x42});

  auto body = std::vector<std::byte>(out.begin() + wire::kHeaderSize, out.end());
  auto bad = body;
  bad[18] = std::byte{5};  // cookie length neither 0 nor 12
  EXPECT_FALSE(wire::decode_hello(bad).has_value());
  bad = body;
  bad.back() = std::byte{1};  // non-zero padding
  EXPECT_FALSE(wire::decode_hello(bad).has_value());
  bad = body;
  std::memset(bad.data(), 0, 8);  // client id 0
  EXPECT_FALSE(wire::decode_hello(bad).has_value());
  bad = body;
  bad[12] = bad[13] = bad[14] = bad[15] = std::byte{0};  // window below max_message
  EXPECT_FALSE(wire::decode_hello(bad).has_value());
}

TEST(RudpPacket, EveryFrameRoundTrips) {
  const std::array<std::byte, 5> payload = {std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}, std::byte{5}};
  const std::array<wire::AckRange, 3> ranges = {wire::AckRange{90, 100}, wire::AckRange{50, 80}, wire::AckRange{0, 10}};
  auto packet = data_packet([&](ByteWriter& w) {
    wire::encode_ping(w);
    wire::encode_ack(ranges, 1000us, w);
    wire::encode_max_data(1ULL << 40, w);
    wire::encode_accept(77, 1000, 2000, 25, w);
    wire::encode_close(0, w);
    wire::encode_fragment(DeliveryMode::unreliable_sequenced, 9, 123456, 10, 15, payload, w);
  });
  auto frames = frames_of(packet);
  ASSERT_TRUE(frames.has_value());
  ASSERT_EQ(frames->size(), 6u);
  EXPECT_EQ((*frames)[0].type, wire::FrameType::ping);
  const wire::Frame& ack = (*frames)[1];
  EXPECT_EQ(ack.ack_delay, 1000us);
  std::vector<wire::AckRange> seen;
  wire::for_each_ack_range(ack, [&](wire::AckRange r) { seen.push_back(r); });
  ASSERT_EQ(seen.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(seen[i].smallest, ranges[i].smallest);
    EXPECT_EQ(seen[i].largest, ranges[i].largest);
  }
  EXPECT_EQ((*frames)[2].max_data, 1ULL << 40);
  EXPECT_EQ((*frames)[3].accept_server_id, 77u);
  EXPECT_EQ((*frames)[3].accept_max_ack_delay_ms, 25u);
  EXPECT_EQ((*frames)[4].type, wire::FrameType::close);
  const wire::Frame& frag = (*frames)[5];
  EXPECT_EQ(frag.mode, DeliveryMode::unreliable_sequenced);
  EXPECT_EQ(frag.channel, 9);
  EXPECT_EQ(frag.message_id, 123456u);
  EXPECT_EQ(frag.offset, 10u);
  EXPECT_EQ(frag.total, 15u);
  ASSERT_EQ(frag.payload.size(), 5u);
  EXPECT_EQ(frag.payload[4], std::byte{5});
}

TEST(RudpPacket, MalformedFramesOfEveryKindAreRefused) {
  const std::array<std::byte, 4> four{};
  // Each case is a DATA packet with one bad frame.
  const std::vector<std::function<void(ByteWriter&)>> cases = {
      [](ByteWriter& w) { w.u8(0x7f); },                              // unknown frame type
      [](ByteWriter& w) { w.u8(0x02); w.u32(5); },                    // ACK cut short
      [](ByteWriter& w) { w.u8(0x02); w.u32(5); w.u16(0); w.u8(0); w.u32(6); },  // first range below 0
      [](ByteWriter& w) { w.u8(0x02); w.u32(5); w.u16(0); w.u8(1); w.u32(2); w.u32(1); w.u32(1); },  // range below 0
      [](ByteWriter& w) { w.u8(0x02); w.u32(5000); w.u16(0); w.u8(33); w.u32(0); },  // too many ranges
      [](ByteWriter& w) { w.u8(0x03); w.u32(1); },                    // MAX_DATA cut short
      [](ByteWriter& w) { w.u8(0x04); w.u64(0); w.u32(10); w.u32(10); w.u16(1); },  // ACCEPT with id 0
      [](ByteWriter& w) { w.u8(0x04); w.u64(1); w.u32(10); w.u32(9); w.u16(1); },   // window < max message
      [](ByteWriter& w) { w.u8(0x05); w.u8(0); },                     // CLOSE cut short
      [&](ByteWriter& w) { w.u8(0x10); w.u8(0); w.u32(0); w.u32(0); w.u32(3); w.u16(4); w.bytes(four); },  // past total
      [&](ByteWriter& w) { w.u8(0x10); w.u8(0); w.u32(0); w.u32(0xfffffffe); w.u32(0xffffffff); w.u16(4); w.bytes(four); },  // offset overflow
      [](ByteWriter& w) { w.u8(0x10); w.u8(0); w.u32(0); w.u32(0); w.u32(8); w.u16(0); },  // empty, not the empty message
      [](ByteWriter& w) { w.u8(0x11); w.u8(0); w.u32(0); w.u32(0); w.u32(100); w.u16(100); },  // payload missing
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    auto packet = data_packet(cases[i]);
    EXPECT_FALSE(frames_of(packet).has_value()) << "case " << i;
    // A good frame before the bad one does not make the packet acceptable.
    auto with_ping = data_packet([&](ByteWriter& w) {
      wire::encode_ping(w);
      cases[i](w);
    });
    EXPECT_FALSE(frames_of(with_ping).has_value()) << "case " << i << " after a PING";
  }
}

TEST(RudpSipHash, MatchesThePapersTestVector) {
  // SipHash-2-4, key 00..0f, message 00..0e: 0xa129ca6149be45e5 (appendix A).
  const SipKey key = {0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL};
  std::array<std::byte, 15> message;
  for (std::size_t i = 0; i < message.size(); ++i) message[i] = static_cast<std::byte>(i);
  EXPECT_EQ(siphash24(key, message), 0xa129ca6149be45e5ULL);
}

TEST(RudpCookie, VerifiesOnlyForTheSameAddressClientAndRecentPeriod) {
  RandomSource random({1, 2});
  CookieJar jar(random, 10s);
  const auto a = bytes_of({10, 0, 0, 1, 0x30, 0x39});
  const auto b = bytes_of({10, 0, 0, 2, 0x30, 0x39});
  const Instant t0{std::chrono::seconds(1000)};
  const wire::Cookie cookie = jar.make(a, 42, t0);
  EXPECT_TRUE(jar.verify(a, 42, cookie, t0));
  EXPECT_TRUE(jar.verify(a, 42, cookie, t0 + 15s));  // the next period still accepts it
  EXPECT_FALSE(jar.verify(b, 42, cookie, t0));       // another address
  EXPECT_FALSE(jar.verify(a, 43, cookie, t0));       // another client id
  wire::Cookie forged = cookie;
  forged[11] ^= std::byte{1};
  EXPECT_FALSE(jar.verify(a, 42, forged, t0));
  EXPECT_FALSE(jar.verify(a, 42, cookie, t0 + 25s));  // two periods on: expired
  // Making a cookie two periods on rotates the secrets: the old one is gone, so
  // the old cookie fails even for a clock that reads its period again.
  (void)jar.make(a, 42, t0 + 25s);
  EXPECT_FALSE(jar.verify(a, 42, cookie, t0));
}

TEST(RudpReceivedPackets, TracksRangesRefusesDuplicatesAndBoundsItself) {
  ReceivedPackets r;
  for (std::uint32_t pn : {0u, 1u, 2u, 5u, 6u, 9u}) {
    ASSERT_TRUE(r.acceptable(pn));
    r.insert(pn);
  }
  EXPECT_FALSE(r.acceptable(1));
  EXPECT_FALSE(r.acceptable(6));
  EXPECT_TRUE(r.acceptable(4));
  EXPECT_FALSE(r.acceptable(9 + ReceivedPackets::kMaxJump + 1));
  std::array<wire::AckRange, 8> out;
  ASSERT_EQ(r.newest(out), 3u);
  EXPECT_EQ(out[0].smallest, 9u);
  EXPECT_EQ(out[1].smallest, 5u);
  EXPECT_EQ(out[1].largest, 6u);
  EXPECT_EQ(out[2].largest, 2u);
  r.insert(3);
  r.insert(4);
  ASSERT_EQ(r.newest(out), 2u);
  EXPECT_EQ(out[1].smallest, 0u);
  EXPECT_EQ(out[1].largest, 6u);

  // Every other number: the oldest ranges are forgotten, and with them the
  // numbers below (refused from then on).
  ReceivedPackets sparse;
  for (std::uint32_t pn = 0; pn < 2 * 200; pn += 2) sparse.insert(pn);
  std::array<wire::AckRange, 100> all;
  EXPECT_EQ(sparse.newest(all), ReceivedPackets::kMaxRanges);
  EXPECT_FALSE(sparse.acceptable(1));
  EXPECT_TRUE(sparse.acceptable(397));
}

TEST(RudpMessageAssembler, AForgedHugeFirstFragmentCostsOnlyItsOwnBytes) {
  ReassemblyBudget budget{0, 1u << 30, 0};
  MessageAssembler assembler(16, 64u << 20, 1u << 20, budget);
  const std::vector<std::byte> payload(1000, std::byte{7});
  wire::Frame f;
  f.type = wire::FrameType::fragment;
  f.mode = DeliveryMode::reliable_ordered;
  f.total = 32u << 20;
  f.payload = payload;
  ASSERT_TRUE(assembler.valid(f));
  EXPECT_EQ(assembler.apply(f), 1000u);
  EXPECT_EQ(assembler.held_bytes(), 1000u + MessageAssembler::kOverhead);
  EXPECT_EQ(budget.used, assembler.held_bytes());
  // Above the receiver's max_message: refused outright.
  MessageAssembler strict(16, 16u << 20, 1u << 20, budget);
  EXPECT_FALSE(strict.valid(f));
}

}  // namespace
}  // namespace sockit::rudp
