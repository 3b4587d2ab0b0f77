// Byte helpers for tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sockit::test {

inline std::span<const std::byte> bytes_of(std::string_view s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}
inline std::string string_of(std::span<const std::byte> b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}
// Deterministic pseudo-random bytes (seeded), so a failure can be replayed.
std::vector<std::byte> random_bytes(std::size_t size, std::uint64_t seed);
// FNV-1a 64: a cheap checksum for verifying large transfers.
std::uint64_t checksum(std::span<const std::byte> data, std::uint64_t state = 14695981039346656037ull);

}  // namespace sockit::test
