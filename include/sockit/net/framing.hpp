// Framing: how a byte stream is cut into messages.
//
//  - raw: every chunk that arrives is a message (no framing);
//  - length-prefix: a 4-byte big-endian length, then that many bytes. A declared
//    length above `max_frame` is a protocol error (errc::frame_too_large): the
//    connection that sent it is closed and nobody else notices;
//  - line: bytes up to and including `delimiter` (default '\n'); a line longer
//    than `max_frame` without a delimiter is errc::frame_too_large.
// Datagram and seqpacket sockets keep boundaries natively and use raw.
//
// decode() looks at buffered input and returns the next complete frame (a view
// into the buffer, valid until the buffer changes) and how many bytes it used;
// encode() appends one framed message to an output buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "sockit/net/buffer.hpp"
#include "sockit/result.hpp"

namespace sockit::net {

struct Framing {
  enum class Kind : std::uint8_t { raw, length_prefix, line };
  Kind kind = Kind::raw;
  std::size_t max_frame = 16u << 20;  // 16 MiB
  std::byte delimiter{'\n'};

  static Framing raw() { return {}; }
  static Framing length_prefix(std::size_t max_frame = 16u << 20) { return {Kind::length_prefix, max_frame}; }
  static Framing line(std::size_t max_line = 64u << 10, char delimiter = '\n') {
    return {Kind::line, max_line, static_cast<std::byte>(delimiter)};
  }
};

struct Frame {
  std::span<const std::byte> payload;  // the message (for line framing: without the delimiter)
  std::size_t consumed = 0;            // bytes of input it used, framing included
};

// The next complete frame in `input`, nullopt if more bytes are needed, or
// errc::frame_too_large.
[[nodiscard]] Result<std::optional<Frame>> decode(const Framing& framing, std::span<const std::byte> input);
// Appends `payload` framed for the wire. Length-prefix payloads above max_frame
// are refused (errc::frame_too_large) so a sender cannot emit what peers must reject.
[[nodiscard]] Status encode(const Framing& framing, std::span<const std::byte> payload, Buffer& out);

}  // namespace sockit::net
