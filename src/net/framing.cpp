#include "sockit/net/framing.hpp"

#include <algorithm>
#include <array>

namespace sockit::net {
namespace {

constexpr std::size_t kLengthBytes = 4;

std::uint32_t read_be32(std::span<const std::byte> b) {
  return (std::to_integer<std::uint32_t>(b[0]) << 24) | (std::to_integer<std::uint32_t>(b[1]) << 16) |
         (std::to_integer<std::uint32_t>(b[2]) << 8) | std::to_integer<std::uint32_t>(b[3]);
}

Result<std::optional<Frame>> decode_length_prefix(const Framing& f, std::span<const std::byte> input) {
  if (input.size() < kLengthBytes) return std::optional<Frame>();
  const std::size_t length = read_be32(input);
  // Checked before waiting for the body: a hostile peer declaring 4 GiB is cut off
  // at once instead of being buffered up to the limit.
  if (length > f.max_frame) return fail(errc::frame_too_large);
  if (input.size() - kLengthBytes < length) return std::optional<Frame>();
  return std::optional<Frame>(Frame{input.subspan(kLengthBytes, length), kLengthBytes + length});
}

Result<std::optional<Frame>> decode_line(const Framing& f, std::span<const std::byte> input) {
  // Only the first max_frame+1 bytes can hold a legal delimiter.
  const auto window = input.first(std::min(input.size(), f.max_frame + 1));
  const auto it = std::find(window.begin(), window.end(), f.delimiter);
  if (it == window.end()) {
    if (input.size() > f.max_frame) return fail(errc::frame_too_large);
    return std::optional<Frame>();
  }
  const auto length = static_cast<std::size_t>(it - window.begin());
  return std::optional<Frame>(Frame{input.first(length), length + 1});
}

}  // namespace

Result<std::optional<Frame>> decode(const Framing& framing, std::span<const std::byte> input) {
  switch (framing.kind) {
    case Framing::Kind::raw:
      if (input.empty()) return std::optional<Frame>();
      return std::optional<Frame>(Frame{input, input.size()});
    case Framing::Kind::length_prefix: return decode_length_prefix(framing, input);
    case Framing::Kind::line: return decode_line(framing, input);
  }
  return fail(errc::invalid_argument);
}

Status encode(const Framing& framing, std::span<const std::byte> payload, Buffer& out) {
  switch (framing.kind) {
    case Framing::Kind::raw:
      out.append(payload);
      return {};
    case Framing::Kind::length_prefix: {
      if (payload.size() > framing.max_frame || payload.size() > UINT32_MAX) return fail(errc::frame_too_large);
      const auto n = static_cast<std::uint32_t>(payload.size());
      const std::array<std::byte, kLengthBytes> header{std::byte(n >> 24), std::byte(n >> 16), std::byte(n >> 8),
                                                       std::byte(n)};
      out.append(header);
      out.append(payload);
      return {};
    }
    case Framing::Kind::line:
      if (payload.size() > framing.max_frame) return fail(errc::frame_too_large);
      out.append(payload);
      out.append(std::span(&framing.delimiter, 1));
      return {};
  }
  return fail(errc::invalid_argument);
}

}  // namespace sockit::net
