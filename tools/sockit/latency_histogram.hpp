// LatencyHistogram: latencies in nanoseconds, counted in log-linear buckets (the
// HdrHistogram idea, written small), for the percentiles of `sockit bench` and `sockit load`.
//
// Why buckets and not a vector of samples: a one-second ping-pong over a socketpair
// is a million round trips, and a fixed-rate run can go on for minutes; sorting
// samples would cost memory in proportion to the run. Here memory is fixed
// (kBucketCount counters, about 43 KiB) and recording is O(1).
//
// Precision: values below 256 ns are exact; above, each power of two is cut into
// 128 equal buckets, so a reported percentile is at most 1/128 (0.8 %) above the
// true sample (it is the bucket's highest value, never lower than the truth:
// HdrHistogram's "highest equivalent value"). min, max and the mean are exact.
// Values from 2^48 ns (78 hours) up are counted in the last bucket, whose
// percentile is then the exact max.
//
// A value type; one thread at a time.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace sockit::cli {

class LatencyHistogram {
 public:
  static constexpr unsigned kExactBits = 8;   // 0..255 ns one bucket each
  static constexpr unsigned kSubBits = 7;     // 128 buckets per power of two above
  static constexpr unsigned kMaxBits = 48;    // values < 2^48 ns are bucketed precisely
  static constexpr std::size_t kBucketCount =
      (std::size_t{1} << kExactBits) + (kMaxBits - kExactBits) * (std::size_t{1} << kSubBits);

  void record(std::uint64_t nanoseconds) noexcept;
  // Adds another histogram's counts (and min/max/sum) to this one.
  void merge(const LatencyHistogram& other) noexcept;

  [[nodiscard]] std::uint64_t count() const noexcept { return count_; }
  [[nodiscard]] std::uint64_t min() const noexcept { return count_ == 0 ? 0 : min_; }
  [[nodiscard]] std::uint64_t max() const noexcept { return max_; }
  [[nodiscard]] double mean() const noexcept;
  // The value at or below which `percent` (0 to 100) of the samples lie: the
  // highest value of the bucket holding the ceil(percent/100 * count)-th smallest
  // sample, capped at max(). 0 when empty.
  [[nodiscard]] std::uint64_t percentile(double percent) const noexcept;

  // Bucket arithmetic, public for the unit test.
  [[nodiscard]] static std::size_t bucket_of(std::uint64_t nanoseconds) noexcept;
  [[nodiscard]] static std::uint64_t highest_in_bucket(std::size_t bucket) noexcept;

 private:
  std::array<std::uint64_t, kBucketCount> counts_{};
  std::uint64_t count_ = 0;
  std::uint64_t min_ = UINT64_MAX;
  std::uint64_t max_ = 0;
  long double sum_ = 0;
};

}  // namespace sockit::cli
