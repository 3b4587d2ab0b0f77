// LatencyHistogram: round-trip times in nanoseconds, log-linear (HdrHistogram's
// idea, without its configuration): values below 16 are exact, above that each
// power of two is cut into 16 sub-buckets, so a percentile is within ~6% of the
// true value (~3% on average) whatever the scale, in a fixed 8 KiB array with no
// allocation per value. max() is exact.
//
// One per thread (no locking); merge() sums them afterwards.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace sockit::cli {

class LatencyHistogram {
 public:
  void record(std::uint64_t ns) noexcept;
  void merge(const LatencyHistogram& other) noexcept;
  // The value below which a fraction q (0..1) of the recorded ones lie: the middle
  // of the bucket holding that rank, never above max(); q = 1 is max() itself. 0
  // when nothing was recorded.
  [[nodiscard]] std::uint64_t percentile(double q) const noexcept;
  [[nodiscard]] std::uint64_t max() const noexcept { return max_; }
  [[nodiscard]] std::uint64_t count() const noexcept { return count_; }

 private:
  static constexpr unsigned kSubBits = 4;  // 16 sub-buckets per power of two
  static constexpr std::size_t kBuckets = (64 - kSubBits + 1) << kSubBits;
  static std::size_t bucket_of(std::uint64_t ns) noexcept;
  static std::uint64_t lower_bound_of(std::size_t bucket) noexcept;

  std::array<std::uint64_t, kBuckets> counts_{};
  std::uint64_t count_ = 0;
  std::uint64_t max_ = 0;
};

}  // namespace sockit::cli
