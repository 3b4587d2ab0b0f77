#include "rudp/packet.hpp"

#include <algorithm>

namespace sockit::rudp::wire {
namespace {

constexpr std::int64_t kAckDelayUnitUs = 8;  // u16 x 8 us: up to 524 ms, saturating

std::unexpected<std::error_code> malformed() { return fail(errc::malformed_packet); }

}  // namespace

Result<Header> decode_header(std::span<const std::byte> packet) {
  ByteReader in(packet);
  const std::uint8_t first = in.u8();
  Header header;
  header.destination = in.u64();
  header.packet_number = in.u32();
  if (in.failed() || (first >> 4) != kVersion) return malformed();
  const std::uint8_t type = first & 0x0f;
  if (type < 1 || type > 3) return malformed();
  header.type = static_cast<PacketType>(type);
  if (header.type == PacketType::hello && (header.destination != 0 || header.packet_number != 0)) {
    return malformed();
  }
  if (header.type == PacketType::hello && packet.size() < kMinHelloSize) return malformed();
  if (header.type == PacketType::challenge && packet.size() != kChallengeSize) return malformed();
  return header;
}

void encode_header(const Header& header, ByteWriter& out) {
  out.u8(static_cast<std::uint8_t>(kVersion << 4 | static_cast<std::uint8_t>(header.type)));
  out.u64(header.destination);
  out.u32(header.packet_number);
}

Result<Hello> decode_hello(std::span<const std::byte> body) {
  ByteReader in(body);
  Hello hello;
  hello.client_id = in.u64();
  hello.max_message = in.u32();
  hello.window = in.u32();
  hello.max_ack_delay_ms = in.u16();
  const std::uint8_t cookie_size = in.u8();
  if (in.failed() || hello.client_id == 0 || hello.max_message == 0 || hello.window < hello.max_message) {
    return malformed();
  }
  if (cookie_size != 0 && cookie_size != kCookieSize) return malformed();
  if (cookie_size == kCookieSize) {
    auto bytes = in.bytes(kCookieSize);
    if (in.failed()) return malformed();
    Cookie cookie;
    std::copy(bytes.begin(), bytes.end(), cookie.begin());
    hello.cookie = cookie;
  }
  // The rest is padding; it must be zero so the field space stays usable later.
  for (std::byte b : in.bytes(in.remaining())) {
    if (b != std::byte{0}) return malformed();
  }
  return hello;
}

std::size_t encode_hello(const Hello& hello, std::size_t pad_to, std::span<std::byte> out) {
  ByteWriter w(out);
  encode_header(Header{PacketType::hello, 0, 0}, w);
  w.u64(hello.client_id);
  w.u32(hello.max_message);
  w.u32(hello.window);
  w.u16(hello.max_ack_delay_ms);
  if (hello.cookie) {
    w.u8(kCookieSize);
    w.bytes(*hello.cookie);
  } else {
    w.u8(0);
  }
  const std::size_t target = std::max(pad_to, kMinHelloSize);
  if (w.size() < target) w.zeros(target - w.size());
  return w.failed() ? 0 : w.size();
}

Result<Cookie> decode_challenge(std::span<const std::byte> body) {
  if (body.size() != kCookieSize) return malformed();
  Cookie cookie;
  std::copy(body.begin(), body.end(), cookie.begin());
  return cookie;
}

std::size_t encode_challenge(std::uint64_t client_id, const Cookie& cookie, std::span<std::byte> out) {
  ByteWriter w(out);
  encode_header(Header{PacketType::challenge, client_id, 0}, w);
  w.bytes(cookie);
  return w.failed() ? 0 : w.size();
}

bool FrameReader::next(Frame& frame) {
  if (malformed_ || in_.remaining() == 0) return false;
  const std::uint8_t type = in_.u8();
  frame = Frame{};
  switch (type) {
    case static_cast<std::uint8_t>(FrameType::ping):
      frame.type = FrameType::ping;
      break;
    case static_cast<std::uint8_t>(FrameType::ack): {
      frame.type = FrameType::ack;
      frame.ack_largest = in_.u32();
      frame.ack_delay = Duration(std::int64_t{in_.u16()} * kAckDelayUnitUs);
      frame.ack_range_count = in_.u8();
      frame.ack_first_range = in_.u32();
      if (in_.failed() || frame.ack_range_count > kMaxAckRanges || frame.ack_first_range > frame.ack_largest) {
        malformed_ = true;
        return false;
      }
      frame.ack_more_ranges = in_.bytes(std::size_t{frame.ack_range_count} * kAckRangeSize);
      if (in_.failed()) break;
      // Each range must stay at or above packet number 0: validated here, once,
      // so for_each_ack_range can do plain arithmetic.
      ByteReader more(frame.ack_more_ranges);
      std::uint64_t smallest = frame.ack_largest - frame.ack_first_range;
      for (std::uint8_t i = 0; i < frame.ack_range_count; ++i) {
        const std::uint64_t gap = more.u32();
        const std::uint64_t length = more.u32();
        if (smallest < gap + 2 + length) {
          malformed_ = true;
          return false;
        }
        smallest = smallest - gap - 2 - length;
      }
      break;
    }
    case static_cast<std::uint8_t>(FrameType::max_data):
      frame.type = FrameType::max_data;
      frame.max_data = in_.u64();
      break;
    case static_cast<std::uint8_t>(FrameType::accept):
      frame.type = FrameType::accept;
      frame.accept_server_id = in_.u64();
      frame.accept_max_message = in_.u32();
      frame.accept_window = in_.u32();
      frame.accept_max_ack_delay_ms = in_.u16();
      if (!in_.failed() && (frame.accept_server_id == 0 || frame.accept_max_message == 0 ||
                            frame.accept_window < frame.accept_max_message)) {
        malformed_ = true;
        return false;
      }
      break;
    case static_cast<std::uint8_t>(FrameType::close):
      frame.type = FrameType::close;
      frame.close_code = in_.u16();
      break;
    case 0x10:
    case 0x11:
    case 0x12:
    case 0x13: {
      frame.type = FrameType::fragment;
      frame.mode = static_cast<DeliveryMode>(type - 0x10);
      frame.channel = in_.u8();
      frame.message_id = in_.u32();
      frame.offset = in_.u32();
      frame.total = in_.u32();
      const std::uint16_t length = in_.u16();
      frame.payload = in_.bytes(length);
      if (in_.failed()) break;
      // Inside the message; empty only for the empty message.
      const std::uint64_t end = std::uint64_t{frame.offset} + length;
      if (end > frame.total || (length == 0 && frame.total != 0)) {
        malformed_ = true;
        return false;
      }
      break;
    }
    default:
      malformed_ = true;
      return false;
  }
  if (in_.failed()) {
    malformed_ = true;
    return false;
  }
  return true;
}

void encode_ping(ByteWriter& out) { out.u8(static_cast<std::uint8_t>(FrameType::ping)); }

void encode_ack(std::span<const AckRange> ranges, Duration ack_delay, ByteWriter& out) {
  const std::int64_t units = std::clamp<std::int64_t>(ack_delay.count() / kAckDelayUnitUs, 0, 0xffff);
  out.u8(static_cast<std::uint8_t>(FrameType::ack));
  out.u32(ranges[0].largest);
  out.u16(static_cast<std::uint16_t>(units));
  out.u8(static_cast<std::uint8_t>(ranges.size() - 1));
  out.u32(ranges[0].largest - ranges[0].smallest);
  for (std::size_t i = 1; i < ranges.size(); ++i) {
    out.u32(ranges[i - 1].smallest - ranges[i].largest - 2);
    out.u32(ranges[i].largest - ranges[i].smallest);
  }
}

void encode_max_data(std::uint64_t max_data, ByteWriter& out) {
  out.u8(static_cast<std::uint8_t>(FrameType::max_data));
  out.u64(max_data);
}

void encode_accept(std::uint64_t server_id, std::uint32_t max_message, std::uint32_t window,
                   std::uint16_t max_ack_delay_ms, ByteWriter& out) {
  out.u8(static_cast<std::uint8_t>(FrameType::accept));
  out.u64(server_id);
  out.u32(max_message);
  out.u32(window);
  out.u16(max_ack_delay_ms);
}

void encode_close(std::uint16_t code, ByteWriter& out) {
  out.u8(static_cast<std::uint8_t>(FrameType::close));
  out.u16(code);
}

void encode_fragment(DeliveryMode mode, std::uint8_t channel, std::uint32_t message_id, std::uint32_t offset,
                     std::uint32_t total, std::span<const std::byte> payload, ByteWriter& out) {
  out.u8(static_cast<std::uint8_t>(0x10 + static_cast<std::uint8_t>(mode)));
  out.u8(channel);
  out.u32(message_id);
  out.u32(offset);
  out.u32(total);
  out.u16(static_cast<std::uint16_t>(payload.size()));
  out.bytes(payload);
}

}  // namespace sockit::rudp::wire
