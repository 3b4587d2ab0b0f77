#include "latency_histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace sockit::cli {

std::size_t LatencyHistogram::bucket_of(std::uint64_t ns) noexcept {
  constexpr std::uint64_t kExact = std::uint64_t{1} << kSubBits;
  if (ns < kExact) return static_cast<std::size_t>(ns);
  const unsigned top = 63u - static_cast<unsigned>(std::countl_zero(ns));  // ns in [2^top, 2^(top+1))
  const std::uint64_t sub = (ns >> (top - kSubBits)) & (kExact - 1);
  return static_cast<std::size_t>(((top - kSubBits + 1) << kSubBits) + sub);
}

std::uint64_t LatencyHistogram::lower_bound_of(std::size_t bucket) noexcept {
  constexpr std::size_t kExact = std::size_t{1} << kSubBits;
  if (bucket < kExact) return bucket;
  const unsigned top = static_cast<unsigned>(bucket >> kSubBits) + kSubBits - 1;
  const std::uint64_t sub = bucket & (kExact - 1);
  return (std::uint64_t{1} << top) + (sub << (top - kSubBits));
}

void LatencyHistogram::record(std::uint64_t ns) noexcept {
  ++counts_[bucket_of(ns)];
  ++count_;
  max_ = std::max(max_, ns);
}

void LatencyHistogram::merge(const LatencyHistogram& other) noexcept {
  for (std::size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  max_ = std::max(max_, other.max_);
}

std::uint64_t LatencyHistogram::percentile(double q) const noexcept {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  // The rank (1-based) of the value wanted: q = 0.5 of 10 values is the 5th.
  const auto rank = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_))));
  if (rank >= count_) return max_;  // the largest value is known exactly
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      const std::uint64_t low = lower_bound_of(i);
      const std::uint64_t high = i + 1 < kBuckets ? lower_bound_of(i + 1) : max_;
      return std::min(low + (high - low) / 2, max_);
    }
  }
  return max_;
}

}  // namespace sockit::cli
