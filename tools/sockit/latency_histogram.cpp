#include "latency_histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace sockit::cli {

namespace {
constexpr std::uint64_t kExactLimit = std::uint64_t{1} << LatencyHistogram::kExactBits;
constexpr std::size_t kPerPower = std::size_t{1} << LatencyHistogram::kSubBits;
}  // namespace

std::size_t LatencyHistogram::bucket_of(std::uint64_t nanoseconds) noexcept {
  if (nanoseconds < kExactLimit) return static_cast<std::size_t>(nanoseconds);
  const unsigned top_bit = static_cast<unsigned>(std::bit_width(nanoseconds)) - 1;  // >= kExactBits
  if (top_bit >= kMaxBits) return kBucketCount - 1;
  // The kSubBits bits below the top one pick the bucket within this power of two.
  const unsigned shift = top_bit - kSubBits;
  const std::size_t within = static_cast<std::size_t>(nanoseconds >> shift) - kPerPower;
  return static_cast<std::size_t>(kExactLimit) + (top_bit - kExactBits) * kPerPower + within;
}

std::uint64_t LatencyHistogram::highest_in_bucket(std::size_t bucket) noexcept {
  if (bucket < kExactLimit) return bucket;
  const std::size_t above = bucket - static_cast<std::size_t>(kExactLimit);
  const unsigned top_bit = kExactBits + static_cast<unsigned>(above / kPerPower);
  const unsigned shift = top_bit - kSubBits;
  const std::uint64_t lowest = (static_cast<std::uint64_t>(kPerPower + above % kPerPower)) << shift;
  return lowest + ((std::uint64_t{1} << shift) - 1);
}

void LatencyHistogram::record(std::uint64_t nanoseconds) noexcept {
  ++counts_[bucket_of(nanoseconds)];
  ++count_;
  min_ = std::min(min_, nanoseconds);
  max_ = std::max(max_, nanoseconds);
  sum_ += static_cast<long double>(nanoseconds);
}

void LatencyHistogram::merge(const LatencyHistogram& other) noexcept {
  for (std::size_t i = 0; i < kBucketCount; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  sum_ += other.sum_;
}

double LatencyHistogram::mean() const noexcept {
  return count_ == 0 ? 0.0 : static_cast<double>(sum_ / static_cast<long double>(count_));
}

std::uint64_t LatencyHistogram::percentile(double percent) const noexcept {
  if (count_ == 0) return 0;
  const double clamped = std::clamp(percent, 0.0, 100.0);
  const auto rank = std::max<std::uint64_t>(
      1, static_cast<std::uint64_t>(std::ceil(clamped / 100.0 * static_cast<double>(count_))));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBucketCount; ++i) {
    seen += counts_[i];
    if (seen < rank) continue;
    // The last bucket also holds everything beyond the precise range: its only
    // honest upper bound is the largest sample.
    return i == kBucketCount - 1 ? max_ : std::min(highest_in_bucket(i), max_);
  }
  return max_;
}

}  // namespace sockit::cli
