#include "rudp/siphash.hpp"

#include <bit>

namespace sockit::rudp {
namespace {

struct SipState {
  std::uint64_t v0, v1, v2, v3;

  void round() {
    v0 += v1;
    v1 = std::rotl(v1, 13);
    v1 ^= v0;
    v0 = std::rotl(v0, 32);
    v2 += v3;
    v3 = std::rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = std::rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = std::rotl(v1, 17);
    v1 ^= v2;
    v2 = std::rotl(v2, 32);
  }
  void absorb(std::uint64_t m) {
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }
};

std::uint64_t load_le64(const std::byte* p, std::size_t n) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v |= std::uint64_t{static_cast<std::uint8_t>(p[i])} << (8 * i);
  return v;
}

}  // namespace

std::uint64_t siphash24(const SipKey& key, std::span<const std::byte> message) {
  SipState s{key[0] ^ 0x736f6d6570736575ULL, key[1] ^ 0x646f72616e646f6dULL, key[0] ^ 0x6c7967656e657261ULL,
             key[1] ^ 0x7465646279746573ULL};
  const std::size_t whole = message.size() / 8 * 8;
  for (std::size_t i = 0; i < whole; i += 8) s.absorb(load_le64(message.data() + i, 8));
  const std::uint64_t last =
      load_le64(message.data() + whole, message.size() - whole) | (std::uint64_t{message.size() & 0xff} << 56);
  s.absorb(last);
  s.v2 ^= 0xff;
  for (int i = 0; i < 4; ++i) s.round();
  return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

std::uint64_t RandomSource::next() {
  std::array<std::byte, 8> block;
  const std::uint64_t c = counter_++;
  for (std::size_t i = 0; i < 8; ++i) block[i] = static_cast<std::byte>(c >> (8 * i));
  return siphash24(key_, block);
}

std::uint64_t RandomSource::next_nonzero() {
  for (;;) {
    if (const std::uint64_t v = next(); v != 0) return v;
  }
}

}  // namespace sockit::rudp
