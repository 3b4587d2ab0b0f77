// HexDump: `--hex`, a trace of one conversation's bytes on stderr for debugging
// a protocol (like `ncat -x` or `socat -x`, but always to stderr so stdout keeps
// carrying only the data).
//
// One line per 16 bytes, in the layout of `hexdump -C`, after a direction marker:
//   > 00000000  68 65 6c 6c 6f 0a                                 |hello.|
// '>' is what we sent to the peer, '<' what we received from it. Each direction
// counts its own offset from 0, so a line says where in that stream the bytes
// sit. A label (e.g. "#3" for the third connection of `listen --keep`) goes in
// front when several conversations share stderr. Each call writes its lines in
// one fwrite, so two conversations never interleave inside one chunk.
//
// A value type; one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace sockit::cli {

// The lines for `data` (may be empty: no lines), starting at `offset`.
[[nodiscard]] std::string format_hex_lines(std::string_view prefix, char direction, std::uint64_t offset,
                                           std::span<const std::byte> data);

class HexDump {
 public:
  HexDump() = default;  // off: sent()/received() do nothing
  HexDump(bool on, std::string label) : on_(on), label_(std::move(label)) {}

  void sent(std::span<const std::byte> data) { dump('>', sent_, data); }
  void received(std::span<const std::byte> data) { dump('<', received_, data); }

 private:
  void dump(char direction, std::uint64_t& offset, std::span<const std::byte> data);

  bool on_ = false;
  std::string label_;
  std::uint64_t sent_ = 0;
  std::uint64_t received_ = 0;
};

}  // namespace sockit::cli
