// The relay's fault model (tools/sockit/faults.*) with fixed seeds: each
// statistic lands within a stated tolerance of what was asked, runs are
// reproducible, stream chunks keep their order, the rate holds.
#include "faults.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace sockit::cli {
namespace {

using namespace std::chrono_literals;
using Clock = FaultLine::Clock;

constexpr int kDatagrams = 100000;

std::vector<bool> losses(const FaultOptions& options, std::uint64_t seed, int n = kDatagrams) {
  FaultLine line(options, seed);
  std::vector<bool> lost;
  const auto now = Clock::now();
  for (int i = 0; i < n; ++i) lost.push_back(line.datagram(100, now).lost);
  return lost;
}

double fraction(const std::vector<bool>& v) {
  double n = 0;
  for (bool b : v) n += b ? 1 : 0;
  return n / static_cast<double>(v.size());
}

TEST(FaultLine, LosesTheAskedFractionOfDatagramsWithinHalfAPercentPoint) {
  // Binomial: sigma = sqrt(0.1 * 0.9 / 100000) = 0.095 points; 0.5 is over 5 sigma.
  EXPECT_NEAR(fraction(losses({.loss = 0.10}, 1)), 0.10, 0.005);
  EXPECT_NEAR(fraction(losses({.loss = 0.01}, 2)), 0.01, 0.002);
  EXPECT_EQ(fraction(losses({.loss = 0}, 3)), 0.0);
  EXPECT_EQ(fraction(losses({.loss = 1}, 4)), 1.0);
}

TEST(FaultLine, BurstLossesComeInRunsOfTheBurstLengthAndKeepTheLongRunFraction) {
  const std::vector<bool> lost = losses({.loss = 0.10, .loss_burst = 4}, 5);
  // Runs are whole bursts (two bursts may touch: a multiple of 4).
  int run = 0;
  int runs = 0;
  for (std::size_t i = 0; i <= lost.size(); ++i) {
    if (i < lost.size() && lost[i]) {
      ++run;
    } else if (run > 0) {
      // The last run may be cut by the end of the sample.
      if (i < lost.size()) {
        EXPECT_EQ(run % 4, 0) << "a run of " << run << " ending at " << i;
      }
      ++runs;
      run = 0;
    }
  }
  EXPECT_GT(runs, 1000);
  // Fewer independent events, so a wider tolerance than above (sigma ~ 0.2 points).
  EXPECT_NEAR(fraction(lost), 0.10, 0.01);
}

TEST(FaultLine, TheSameSeedGivesTheSameLossesAndAnotherSeedOthers) {
  const FaultOptions options{.loss = 0.3};
  EXPECT_EQ(losses(options, 42, 1000), losses(options, 42, 1000));
  EXPECT_NE(losses(options, 42, 1000), losses(options, 43, 1000));
  EXPECT_NE(line_seed(7, 0), line_seed(7, 1));
}

TEST(FaultLine, DuplicatesAndReordersTheAskedFractions) {
  FaultLine line({.duplicate = 0.05, .reorder = 0.20}, 6);
  int duplicated = 0;
  int reordered = 0;
  const auto now = Clock::now();
  for (int i = 0; i < kDatagrams; ++i) {
    const auto fate = line.datagram(100, now);
    ASSERT_FALSE(fate.lost);
    EXPECT_EQ(fate.release, now) << "nothing delays it";
    duplicated += fate.duplicated ? 1 : 0;
    reordered += fate.reordered ? 1 : 0;
  }
  EXPECT_NEAR(duplicated / double(kDatagrams), 0.05, 0.003);
  EXPECT_NEAR(reordered / double(kDatagrams), 0.20, 0.005);
}

TEST(FaultLine, DelayWithJitterStaysInItsWindowAndAveragesTheDelay) {
  FaultLine line({.delay = 20ms, .jitter = 5ms}, 7);
  const auto now = Clock::now();
  double sum_ms = 0;
  for (int i = 0; i < kDatagrams; ++i) {
    const auto wait = line.datagram(100, now).release - now;
    ASSERT_GE(wait, 15ms);
    ASSERT_LE(wait, 25ms);
    sum_ms += std::chrono::duration<double, std::milli>(wait).count();
  }
  // Uniform on +-5 ms: sigma of the mean is 2.9 ms / sqrt(100000) = 0.01 ms.
  EXPECT_NEAR(sum_ms / kDatagrams, 20.0, 0.1);
}

TEST(FaultLine, JitterNeverBringsADelayBelowZero) {
  FaultLine line({.delay = 1ms, .jitter = 10ms}, 8);
  const auto now = Clock::now();
  for (int i = 0; i < 10000; ++i) ASSERT_GE(line.datagram(1, now).release, now);
}

TEST(FaultLine, StreamChunksWithJitterNeverOvertakeOneAnother) {
  FaultLine line({.delay = 10ms, .jitter = 9ms}, 9);
  auto now = Clock::now();
  Clock::time_point previous{};
  bool some_jitter_shows = false;
  for (int i = 0; i < 10000; ++i) {
    now += 100us;
    const auto release = line.chunk(1000, now);
    ASSERT_GE(release, previous);
    ASSERT_GE(release, now);
    some_jitter_shows = some_jitter_shows || release - now != 10ms;
    previous = release;
  }
  EXPECT_TRUE(some_jitter_shows);
}

TEST(FaultLine, TheRateLetsOneBucketGoAtOnceThenPacesTheRest) {
  // 8 Mbit/s = 1 byte per microsecond: 1 MiB offered at once.
  FaultLine line({.rate_bps = 8e6}, 10);
  const auto now = Clock::now();
  Clock::time_point last;
  std::size_t at_once = 0;
  for (int i = 0; i < 1024; ++i) {
    last = line.chunk(1024, now);
    if (last == now) at_once += 1024;
  }
  EXPECT_EQ(at_once, kRateBucketBytes + 1024) << "the bucket, and the chunk that empties it";
  // The last chunk starts after everything but the bucket and itself went at the rate.
  const double expect_us = (1024.0 * 1024 - kRateBucketBytes - 1024);
  const std::chrono::duration<double, std::micro> waited = last - now;
  EXPECT_NEAR(waited.count(), expect_us, 1.0);
}

}  // namespace
}  // namespace sockit::cli
