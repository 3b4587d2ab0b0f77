// The relay's fault model (see faults.hpp for the model and why).
#include "faults.hpp"

#include <algorithm>

namespace sockit::cli {

std::uint64_t line_seed(std::uint64_t seed, std::uint64_t line) {
  // splitmix64: neighbouring lines get unrelated generators.
  std::uint64_t z = seed + (line + 1) * 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

FaultLine::FaultLine(const FaultOptions& options, std::uint64_t seed) : options_(options), random_(seed) {
  const double p = options_.loss;
  const double n = std::max(1u, options_.loss_burst);
  burst_start_ = p >= 1 ? 1 : p / (n * (1 - p) + p);
}

double FaultLine::uniform() { return static_cast<double>(random_() >> 11) * 0x1.0p-53; }

bool FaultLine::lose() {
  if (burst_left_ > 0) {
    --burst_left_;
    return true;
  }
  if (!chance(burst_start_)) return false;
  burst_left_ = std::max(1u, options_.loss_burst) - 1;
  return true;
}

FaultLine::Clock::time_point FaultLine::shaped(std::size_t size, Clock::time_point now) {
  if (options_.rate_bps <= 0) return now;
  using Seconds = std::chrono::duration<double>;
  const auto cost = std::chrono::duration_cast<Clock::duration>(Seconds(8.0 * size / options_.rate_bps));
  const auto tolerance =
      std::chrono::duration_cast<Clock::duration>(Seconds(8.0 * kRateBucketBytes / options_.rate_bps));
  const Clock::time_point leaves = std::max(now, rate_tat_ - tolerance);
  rate_tat_ = std::max(rate_tat_, leaves) + cost;
  return leaves;
}

FaultLine::Clock::duration FaultLine::latency() {
  auto wait = std::chrono::duration_cast<Clock::duration>(options_.delay);
  if (options_.jitter.count() > 0) {
    const auto jitter = std::chrono::duration_cast<Clock::duration>(options_.jitter);
    wait += std::chrono::duration_cast<Clock::duration>((2 * uniform() - 1) * jitter);
  }
  return std::max(wait, Clock::duration::zero());
}

FaultLine::DatagramFate FaultLine::datagram(std::size_t size, Clock::time_point now) {
  DatagramFate fate;
  fate.lost = lose();
  if (fate.lost) {
    fate.release = now;
    return fate;
  }
  fate.release = shaped(size, now) + latency();
  fate.duplicated = chance(options_.duplicate);
  fate.reordered = chance(options_.reorder);
  return fate;
}

FaultLine::Clock::time_point FaultLine::chunk(std::size_t size, Clock::time_point now) {
  last_release_ = std::max(last_release_, shaped(size, now) + latency());
  return last_release_;
}

}  // namespace sockit::cli
