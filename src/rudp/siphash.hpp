// SipHash-2-4 (Aumasson and Bernstein, 2012): a keyed pseudo-random function
// designed as a MAC for short inputs. Reliable UDP uses it for three things that
// need a secret key and nothing stronger: the handshake cookie's MAC, hashing
// peer addresses into tables (an attacker who cannot predict the hash cannot
// flood one bucket), and a counter-mode generator for connection ids and cookie
// secrets. Written from the paper's description; checked against its test vector.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace sockit::rudp {

using SipKey = std::array<std::uint64_t, 2>;

std::uint64_t siphash24(const SipKey& key, std::span<const std::byte> message);

// Pseudo-random 64-bit values: SipHash of a counter under a secret key. As
// unpredictable as the key (seed it from getrandom), deterministic for a test seed.
class RandomSource {
 public:
  explicit RandomSource(const SipKey& seed) : key_(seed) {}
  std::uint64_t next();
  // A value that is never 0 (connection ids reserve 0).
  std::uint64_t next_nonzero();

 private:
  SipKey key_;
  std::uint64_t counter_ = 0;
};

}  // namespace sockit::rudp
