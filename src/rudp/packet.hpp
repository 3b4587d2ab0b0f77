// The reliable-UDP packet codec (docs/RUDP.md, "Packets"): header, HELLO,
// CHALLENGE and the frames of a DATA packet. Pure functions over byte spans: no
// allocation, no state. Every decoder checks every length and every bound and
// returns errc::malformed_packet for anything else; nothing it returns points
// outside its input.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "rudp/byte_io.hpp"
#include "sockit/result.hpp"
#include "sockit/rudp/config.hpp"

namespace sockit::rudp::wire {

constexpr std::uint8_t kVersion = 1;
constexpr std::size_t kHeaderSize = 13;
constexpr std::size_t kMinHelloSize = 64;  // > CHALLENGE: replies never amplify
constexpr std::size_t kHelloBodySize = 19;  // without the cookie
constexpr std::size_t kCookieSize = 12;
constexpr std::size_t kChallengeSize = kHeaderSize + kCookieSize;
constexpr std::size_t kFragmentHeaderSize = 16;
constexpr std::size_t kMaxAckRanges = 32;       // ranges after the first, at most
constexpr std::size_t kAckFrameFixedSize = 12;  // type, largest, delay, count, first range
constexpr std::size_t kAckRangeSize = 8;
constexpr std::size_t kMaxDataFrameSize = 9;
constexpr std::size_t kAcceptFrameSize = 19;
constexpr std::size_t kCloseFrameSize = 3;
constexpr std::size_t kMinDatagramSize = 1200;
constexpr std::size_t kMaxDatagramSize = 65527;

enum class PacketType : std::uint8_t { hello = 1, challenge = 2, data = 3 };

struct Header {
  PacketType type = PacketType::data;
  std::uint64_t destination = 0;  // the receiver's connection id
  std::uint32_t packet_number = 0;
};

using Cookie = std::array<std::byte, kCookieSize>;

struct Hello {
  std::uint64_t client_id = 0;
  std::uint32_t max_message = 0;
  std::uint32_t window = 0;
  std::uint16_t max_ack_delay_ms = 0;
  std::optional<Cookie> cookie;
};

enum class FrameType : std::uint8_t {
  ping = 0x01,
  ack = 0x02,
  max_data = 0x03,
  accept = 0x04,
  close = 0x05,
  fragment = 0x10,  // 0x10 + DeliveryMode
};

struct AckRange {
  std::uint32_t smallest = 0;
  std::uint32_t largest = 0;
};

struct Frame {
  FrameType type = FrameType::ping;
  // ack
  std::uint32_t ack_largest = 0;
  Duration ack_delay{0};
  std::uint32_t ack_first_range = 0;
  std::uint8_t ack_range_count = 0;
  std::span<const std::byte> ack_more_ranges;  // ack_range_count x (gap, length), validated
  // max_data
  std::uint64_t max_data = 0;
  // accept
  std::uint64_t accept_server_id = 0;
  std::uint32_t accept_max_message = 0;
  std::uint32_t accept_window = 0;
  std::uint16_t accept_max_ack_delay_ms = 0;
  // close
  std::uint16_t close_code = 0;
  // fragment
  DeliveryMode mode = DeliveryMode::reliable_ordered;
  std::uint8_t channel = 0;
  std::uint32_t message_id = 0;
  std::uint32_t offset = 0;
  std::uint32_t total = 0;
  std::span<const std::byte> payload;
};

[[nodiscard]] Result<Header> decode_header(std::span<const std::byte> packet);
void encode_header(const Header& header, ByteWriter& out);

// `body` is the packet after the header.
[[nodiscard]] Result<Hello> decode_hello(std::span<const std::byte> body);
// Writes a whole HELLO packet padded to `pad_to` bytes; returns its size (0 if `out` is too small).
std::size_t encode_hello(const Hello& hello, std::size_t pad_to, std::span<std::byte> out);
[[nodiscard]] Result<Cookie> decode_challenge(std::span<const std::byte> body);
std::size_t encode_challenge(std::uint64_t client_id, const Cookie& cookie, std::span<std::byte> out);

// Walks the frames of a DATA packet body. next() returns false at the end or on a
// malformed frame (then malformed() is true and the packet must be dropped whole).
class FrameReader {
 public:
  explicit FrameReader(std::span<const std::byte> body) : in_(body) {}
  bool next(Frame& frame);
  bool malformed() const { return malformed_; }

 private:
  ByteReader in_;
  bool malformed_ = false;
};

// Calls f(AckRange) for each range of a decoded ACK frame, largest first.
template <typename F>
void for_each_ack_range(const Frame& frame, F&& f) {
  std::uint32_t largest = frame.ack_largest;
  std::uint32_t smallest = largest - frame.ack_first_range;  // validated: no underflow
  f(AckRange{smallest, largest});
  ByteReader more(frame.ack_more_ranges);
  for (std::uint8_t i = 0; i < frame.ack_range_count; ++i) {
    const std::uint32_t gap = more.u32();
    const std::uint32_t length = more.u32();
    largest = smallest - gap - 2;
    smallest = largest - length;
    f(AckRange{smallest, largest});
  }
}

// Frame encoders: append to `out` (check out.failed() afterwards).
void encode_ping(ByteWriter& out);
// `ranges` largest first, disjoint, separated by at least one missing number.
void encode_ack(std::span<const AckRange> ranges, Duration ack_delay, ByteWriter& out);
void encode_max_data(std::uint64_t max_data, ByteWriter& out);
void encode_accept(std::uint64_t server_id, std::uint32_t max_message, std::uint32_t window,
                   std::uint16_t max_ack_delay_ms, ByteWriter& out);
void encode_close(std::uint16_t code, ByteWriter& out);
void encode_fragment(DeliveryMode mode, std::uint8_t channel, std::uint32_t message_id, std::uint32_t offset,
                     std::uint32_t total, std::span<const std::byte> payload, ByteWriter& out);

constexpr std::size_t ack_frame_size(std::size_t ranges) {
  return kAckFrameFixedSize + (ranges - 1) * kAckRangeSize;
}

}  // namespace sockit::rudp::wire
