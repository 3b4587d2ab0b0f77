// The latency histogram of `sockit bench` and `sockit load` (tools/sockit/latency_histogram.*): percentiles
// of known inputs, the precision it promises, and memory that does not grow.
#include "latency_histogram.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <type_traits>

namespace sockit::cli {
namespace {

TEST(LatencyHistogram, AnEmptyHistogramReportsZeros) {
  const LatencyHistogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.percentile(50), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.mean(), 0.0);
}

TEST(LatencyHistogram, SmallValuesGiveExactPercentiles) {
  LatencyHistogram h;
  for (std::uint64_t v = 1; v <= 100; ++v) h.record(v);
  EXPECT_EQ(h.count(), 100u);
  EXPECT_EQ(h.percentile(50), 50u);
  EXPECT_EQ(h.percentile(90), 90u);
  EXPECT_EQ(h.percentile(99), 99u);
  EXPECT_EQ(h.percentile(99.9), 100u);
  EXPECT_EQ(h.percentile(100), 100u);
  EXPECT_EQ(h.percentile(0), 1u);
  EXPECT_EQ(h.min(), 1u);
  EXPECT_EQ(h.max(), 100u);
  EXPECT_DOUBLE_EQ(h.mean(), 50.5);
}

TEST(LatencyHistogram, LargeValuesAreReportedAtMostOneBucketAbove) {
  // 1,000 samples each of 1 us, 10 us, 100 us, 1 ms, 10 ms: every percentile lands
  // on one of them, reported no lower and at most 1/128 higher.
  LatencyHistogram h;
  const std::uint64_t values[] = {1'000, 10'000, 100'000, 1'000'000, 10'000'000};
  for (std::uint64_t v : values) {
    for (int i = 0; i < 1000; ++i) h.record(v);
  }
  const double percents[] = {10, 30, 50, 70, 90};
  for (int i = 0; i < 5; ++i) {
    const std::uint64_t got = h.percentile(percents[i]);
    EXPECT_GE(got, values[i]) << percents[i];
    EXPECT_LE(static_cast<double>(got), static_cast<double>(values[i]) * (1 + 1.0 / 128)) << percents[i];
  }
  EXPECT_EQ(h.percentile(99.9), 10'000'000u);  // capped at the exact max
  EXPECT_EQ(h.max(), 10'000'000u);
  EXPECT_EQ(h.min(), 1'000u);
}

TEST(LatencyHistogram, EveryValueFallsInABucketWhoseHighestValueBoundsIt) {
  std::mt19937_64 random(12);
  for (int i = 0; i < 100000; ++i) {
    const std::uint64_t v = random() >> (random() % 64);  // every magnitude
    const std::size_t bucket = LatencyHistogram::bucket_of(v);
    ASSERT_LT(bucket, LatencyHistogram::kBucketCount);
    if (v < (std::uint64_t{1} << LatencyHistogram::kMaxBits)) {
      const std::uint64_t high = LatencyHistogram::highest_in_bucket(bucket);
      ASSERT_GE(high, v);
      ASSERT_LE(static_cast<double>(high - v), static_cast<double>(v) / 128 + 1) << v;
      if (bucket > 0) {
        ASSERT_LT(LatencyHistogram::highest_in_bucket(bucket - 1), v) << v;
      }
    } else {
      ASSERT_EQ(bucket, LatencyHistogram::kBucketCount - 1);
    }
  }
}

TEST(LatencyHistogram, MemoryIsFixedWhateverIsRecorded) {
  // No allocation at all: the buckets are an array inside the object.
  static_assert(std::is_trivially_copyable_v<LatencyHistogram>);
  EXPECT_LE(sizeof(LatencyHistogram), 48u * 1024);
  LatencyHistogram h;
  for (std::uint64_t i = 0; i < 1'000'000; ++i) h.record(i * 7919);
  h.record(UINT64_MAX);  // beyond the precise range: counted in the last bucket
  EXPECT_EQ(h.count(), 1'000'001u);
  EXPECT_EQ(h.max(), UINT64_MAX);
  EXPECT_EQ(h.percentile(100), UINT64_MAX);
}

TEST(LatencyHistogram, MergeAddsCountsAndExtremes) {
  LatencyHistogram a;
  LatencyHistogram b;
  for (std::uint64_t v = 1; v <= 50; ++v) a.record(v);
  for (std::uint64_t v = 51; v <= 100; ++v) b.record(v);
  a.merge(b);
  EXPECT_EQ(a.count(), 100u);
  EXPECT_EQ(a.percentile(50), 50u);
  EXPECT_EQ(a.min(), 1u);
  EXPECT_EQ(a.max(), 100u);
}

}  // namespace
}  // namespace sockit::cli
