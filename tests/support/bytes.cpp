#include "support/bytes.hpp"

#include <random>

namespace sockit::test {

std::vector<std::byte> random_bytes(std::size_t size, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::byte> out(size);
  std::size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    const std::uint64_t v = rng();
    for (int k = 0; k < 8; ++k) out[i + k] = static_cast<std::byte>(v >> (8 * k));
  }
  for (; i < size; ++i) out[i] = static_cast<std::byte>(rng());
  return out;
}

std::uint64_t checksum(std::span<const std::byte> data, std::uint64_t state) {
  for (std::byte b : data) {
    state ^= static_cast<std::uint8_t>(b);
    state *= 1099511628211ull;
  }
  return state;
}

}  // namespace sockit::test
