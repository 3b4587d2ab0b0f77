#include "net/admission.hpp"

#include <algorithm>

namespace sockit::net {

Admission::Admission(const ServerOptions& options)
    : max_connections_(options.max_connections),
      max_per_peer_(options.max_connections_per_peer),
      rate_(options.accept_rate),
      burst_(std::max(1.0, options.accept_burst)),
      tokens_(burst_) {}

bool Admission::take_token(std::chrono::steady_clock::time_point now) {
  if (rate_ <= 0) return true;
  const double elapsed = std::chrono::duration<double>(now - refilled_).count();
  tokens_ = std::min(burst_, tokens_ + elapsed * rate_);
  refilled_ = now;
  if (tokens_ < 1.0) return false;
  tokens_ -= 1.0;
  return true;
}

Verdict Admission::admit(const std::string& peer) {
  std::lock_guard lock(mutex_);
  // The rate is checked first: a flood over the rate should not even be counted
  // against the other limits.
  if (!take_token(std::chrono::steady_clock::now())) return Verdict::rate;
  if (active_ >= max_connections_) return Verdict::max_connections;
  if (max_per_peer_ > 0) {
    auto& count = per_peer_[peer];
    if (count >= max_per_peer_) return Verdict::per_peer;
    ++count;
  }
  ++active_;
  return Verdict::admit;
}

void Admission::release(const std::string& peer) {
  std::lock_guard lock(mutex_);
  if (active_ > 0) --active_;
  if (max_per_peer_ == 0) return;
  if (auto it = per_peer_.find(peer); it != per_peer_.end() && --it->second == 0) per_peer_.erase(it);
}

std::size_t Admission::active() const {
  std::lock_guard lock(mutex_);
  return active_;
}

}  // namespace sockit::net
