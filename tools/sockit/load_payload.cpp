#include "load_payload.hpp"

namespace sockit::cli {
namespace {

// splitmix64's finaliser: a good mix of every input bit in a few instructions.
constexpr std::uint64_t mix(std::uint64_t x) noexcept {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

std::uint64_t LoadPayload::message_key(std::uint64_t connection, std::uint64_t message) const noexcept {
  return mix(mix(seed_ ^ mix(connection)) ^ message);
}

std::size_t LoadPayload::size_of(std::uint64_t connection, std::uint64_t message) const noexcept {
  if (sizes_.min == sizes_.max) return sizes_.min;
  const std::uint64_t span = sizes_.max - sizes_.min + 1;
  return sizes_.min + static_cast<std::size_t>(mix(message_key(connection, message) ^ 0x5a5a) % span);
}

// Eight bytes per mixed word: a message costs one mix per 8 bytes to make or check.
std::byte LoadPayload::byte_of(std::uint64_t key, std::size_t position) const noexcept {
  return byte_in(mix(key + position / 8), position);
}

std::byte LoadPayload::byte_in(std::uint64_t word, std::size_t position) const noexcept {
  const auto value = static_cast<unsigned>((word >> (8 * (position % 8))) & 0xff);
  // Printable: ' ' (0x20) to '~' (0x7e), never the line delimiter.
  return static_cast<std::byte>(printable_ ? 0x20 + value % 95 : value);
}

std::byte LoadPayload::byte_at(std::uint64_t connection, std::uint64_t message, std::size_t position) const noexcept {
  return byte_of(message_key(connection, message), position);
}

void LoadPayload::fill(std::uint64_t connection, std::uint64_t message, std::span<std::byte> out) const noexcept {
  const std::uint64_t key = message_key(connection, message);
  std::uint64_t word = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (i % 8 == 0) word = mix(key + i / 8);
    out[i] = byte_in(word, i);
  }
}

std::size_t LoadPayload::first_difference(std::uint64_t connection, std::uint64_t message, std::size_t offset,
                                          std::span<const std::byte> got) const noexcept {
  const std::uint64_t key = message_key(connection, message);
  std::uint64_t word = mix(key + offset / 8);
  for (std::size_t i = 0; i < got.size(); ++i) {
    const std::size_t position = offset + i;
    if (position % 8 == 0) word = mix(key + position / 8);
    if (got[i] != byte_in(word, position)) return i;
  }
  return got.size();
}

}  // namespace sockit::cli
