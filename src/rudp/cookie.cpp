#include "rudp/cookie.hpp"

#include <algorithm>
#include <array>

namespace sockit::rudp {

std::uint32_t CookieJar::bucket_of(Instant now) const {
  return static_cast<std::uint32_t>(now.time_since_epoch() / period_);
}

void CookieJar::rotate_to(std::uint32_t bucket) {
  for (std::uint32_t b : {bucket - 1, bucket}) {
    Secret& s = secrets_[b & 1];
    if (s.valid && s.bucket == b) continue;
    s.key = {random_.next(), random_.next()};
    s.bucket = b;
    s.valid = true;
  }
}

std::uint64_t CookieJar::mac(const SipKey& secret, std::span<const std::byte> peer, std::uint64_t client_id,
                             std::uint32_t bucket) const {
  // address (at most 28 bytes: sockaddr_in6) || client id || bucket
  std::array<std::byte, 64> input{};
  const std::size_t n = std::min(peer.size(), input.size() - 12);
  std::copy_n(peer.begin(), n, input.begin());
  for (std::size_t i = 0; i < 8; ++i) input[n + i] = static_cast<std::byte>(client_id >> (8 * i));
  for (std::size_t i = 0; i < 4; ++i) input[n + 8 + i] = static_cast<std::byte>(bucket >> (8 * i));
  return siphash24(secret, std::span(input).first(n + 12));
}

wire::Cookie CookieJar::make(std::span<const std::byte> peer, std::uint64_t client_id, Instant now) {
  const std::uint32_t bucket = bucket_of(now);
  rotate_to(bucket);
  const std::uint64_t m = mac(secrets_[bucket & 1].key, peer, client_id, bucket);
  wire::Cookie cookie;
  ByteWriter w(cookie);
  w.u32(bucket);
  w.u64(m);
  return cookie;
}

bool CookieJar::verify(std::span<const std::byte> peer, std::uint64_t client_id, const wire::Cookie& cookie,
                       Instant now) {
  ByteReader r(cookie);
  const std::uint32_t bucket = r.u32();
  const std::uint64_t claimed = r.u64();
  const std::uint32_t current = bucket_of(now);
  if (bucket != current && bucket != current - 1) return false;
  rotate_to(current);
  const Secret& s = secrets_[bucket & 1];
  if (!s.valid || s.bucket != bucket) return false;
  // One 64-bit compare, no byte-by-byte early exit for timing to reveal.
  return mac(s.key, peer, client_id, bucket) == claimed;
}

}  // namespace sockit::rudp
