#include "hex_dump.hpp"

#include <algorithm>
#include <cstdio>

namespace sockit::cli {
namespace {

constexpr std::size_t kBytesPerLine = 16;
constexpr char kDigits[] = "0123456789abcdef";

void append_hex(std::string& out, std::uint64_t value, int digits) {
  for (int shift = (digits - 1) * 4; shift >= 0; shift -= 4) out += kDigits[(value >> shift) & 0xf];
}

}  // namespace

std::string format_hex_lines(std::string_view prefix, char direction, std::uint64_t offset,
                             std::span<const std::byte> data) {
  std::string out;
  for (std::size_t at = 0; at < data.size(); at += kBytesPerLine) {
    const auto line = data.subspan(at, std::min(kBytesPerLine, data.size() - at));
    out += prefix;
    out += direction;
    out += ' ';
    append_hex(out, offset + at, 8);
    out += ' ';
    for (std::size_t i = 0; i < kBytesPerLine; ++i) {
      out += (i == 8) ? "  " : " ";
      if (i < line.size()) {
        append_hex(out, static_cast<std::uint8_t>(line[i]), 2);
      } else {
        out += "  ";  // pad a short last line so the text column lines up
      }
    }
    out += "  |";
    for (const std::byte b : line) {
      const auto c = static_cast<unsigned char>(b);
      out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '.';
    }
    out += "|\n";
  }
  return out;
}

void HexDump::dump(char direction, std::uint64_t& offset, std::span<const std::byte> data) {
  if (!on_) return;
  const std::string prefix = label_.empty() ? std::string() : label_ + ' ';
  const std::string lines = format_hex_lines(prefix, direction, offset, data);
  offset += data.size();
  std::fwrite(lines.data(), 1, lines.size(), stderr);
  std::fflush(stderr);
}

}  // namespace sockit::cli
