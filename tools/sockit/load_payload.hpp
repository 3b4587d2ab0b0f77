// What `sockit load` sends: every message's size and bytes are a pure function of
// (seed, connection, message number, position), so the echo is verified by
// regenerating them, with nothing stored per message but its send time, and a
// mismatch can be named exactly ("connection 3, message 17, byte 5").
//
// Line framing must not send the delimiter inside a message, so its bytes are
// printable ASCII; the other framings use every byte value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace sockit::cli {

struct SizeRange {
  std::size_t min = 64;
  std::size_t max = 64;  // == min: every message the same size
};

class LoadPayload {
 public:
  LoadPayload(std::uint64_t seed, SizeRange sizes, bool printable) noexcept
      : seed_(seed), sizes_(sizes), printable_(printable) {}

  [[nodiscard]] std::size_t size_of(std::uint64_t connection, std::uint64_t message) const noexcept;
  // Fills `out` (size_of(connection, message) bytes) with the message's bytes.
  void fill(std::uint64_t connection, std::uint64_t message, std::span<std::byte> out) const noexcept;
  // The offset of the first byte of `got` that differs from the message's bytes at
  // [offset, offset + got.size()), or got.size() when all match.
  [[nodiscard]] std::size_t first_difference(std::uint64_t connection, std::uint64_t message, std::size_t offset,
                                             std::span<const std::byte> got) const noexcept;
  [[nodiscard]] std::byte byte_at(std::uint64_t connection, std::uint64_t message,
                                  std::size_t position) const noexcept;
  [[nodiscard]] SizeRange sizes() const noexcept { return sizes_; }

 private:
  [[nodiscard]] std::uint64_t message_key(std::uint64_t connection, std::uint64_t message) const noexcept;
  [[nodiscard]] std::byte byte_of(std::uint64_t key, std::size_t position) const noexcept;
  [[nodiscard]] std::byte byte_in(std::uint64_t word, std::size_t position) const noexcept;

  std::uint64_t seed_;
  SizeRange sizes_;
  bool printable_;
};

}  // namespace sockit::cli
