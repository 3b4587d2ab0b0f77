// The stateless handshake cookie (docs/RUDP.md, "The cookie"): proof that a
// client receives datagrams at the address it claims, checked without keeping
// anything per client. cookie = bucket || SipHash(secret[bucket], address ||
// client id || bucket). Two secrets live at a time (this period's and the last);
// moving to a new period replaces the older with fresh random bits.
//
// Costs nothing per peer and allocates nothing: a flood of forged HELLOs only
// spends hashing time.
#pragma once

#include <cstdint>
#include <span>

#include "rudp/packet.hpp"
#include "rudp/siphash.hpp"
#include "sockit/rudp/config.hpp"

namespace sockit::rudp {

class CookieJar {
 public:
  CookieJar(RandomSource& random, Duration period) : random_(random), period_(period) {}

  wire::Cookie make(std::span<const std::byte> peer, std::uint64_t client_id, Instant now);
  bool verify(std::span<const std::byte> peer, std::uint64_t client_id, const wire::Cookie& cookie, Instant now);

 private:
  std::uint32_t bucket_of(Instant now) const;
  // Makes sure the secrets of `bucket` and `bucket - 1` exist (rotating as needed).
  void rotate_to(std::uint32_t bucket);
  std::uint64_t mac(const SipKey& secret, std::span<const std::byte> peer, std::uint64_t client_id,
                    std::uint32_t bucket) const;

  struct Secret {
    SipKey key{};
    std::uint32_t bucket = 0;
    bool valid = false;
  };

  RandomSource& random_;
  Duration period_;
  Secret secrets_[2];  // indexed by bucket parity
};

}  // namespace sockit::rudp
