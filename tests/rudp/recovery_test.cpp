// The loss-recovery arithmetic on its own: RTT estimation after RFC 9002 section 5
// (in microseconds) and NewReno in bytes after section 7.
#include <gtest/gtest.h>

#include "rudp/congestion.hpp"
#include "rudp/rtt.hpp"

namespace sockit::rudp {
namespace {

using namespace std::chrono_literals;

TEST(RudpRtt, StartsFromTheInitialRttThenFollowsSamplesInMicroseconds) {
  RttEstimator rtt;
  EXPECT_EQ(rtt.smoothed(), 333ms);
  EXPECT_EQ(rtt.pto(25ms), 333ms + 4 * rtt.variance() + 25ms);
  rtt.on_sample(250us, 0us);  // a fast link: a millisecond clock would read 0
  EXPECT_EQ(rtt.smoothed(), 250us);
  EXPECT_EQ(rtt.variance(), 125us);
  EXPECT_EQ(rtt.min(), 250us);
  rtt.on_sample(330us, 0us);
  EXPECT_EQ(rtt.smoothed(), (7 * 250us + 330us) / 8);
  EXPECT_EQ(rtt.variance(), (3 * 125us + 80us) / 4);
  // The granularity floor keeps the PTO from collapsing on a fast link.
  EXPECT_GE(rtt.pto(0us), rtt.smoothed() + 1ms);
}

TEST(RudpRtt, SubtractsTheReportedAckDelayOnlyWhenItStaysAboveTheMinimum) {
  RttEstimator rtt;
  rtt.on_sample(20ms, 0us);
  rtt.on_sample(25ms, 5ms);  // 25 - 5 = 20 >= min: adjusted to 20
  EXPECT_EQ(rtt.smoothed(), 20ms);
  rtt.on_sample(22ms, 5ms);  // 22 - 5 < min 20: used as is
  EXPECT_EQ(rtt.smoothed(), (7 * Duration(20ms) + Duration(22ms)) / 8);  // in microseconds: 20.25 ms
  EXPECT_EQ(rtt.min(), 20ms);
}

TEST(RudpNewReno, SlowStartThenOneHalvingPerRoundTripThenLinearGrowth) {
  const Instant t0{std::chrono::seconds(1)};
  NewReno cc(1200);
  EXPECT_EQ(cc.window(), 12000u);
  cc.on_acked(1200, t0);
  EXPECT_EQ(cc.window(), 13200u);  // slow start: + acknowledged bytes

  cc.on_lost(t0 + 1ms, t0 + 10ms);
  EXPECT_EQ(cc.window(), 6600u);
  cc.on_lost(t0 + 5ms, t0 + 11ms);  // sent before the reduction began: same round trip
  EXPECT_EQ(cc.window(), 6600u);
  cc.on_acked(1200, t0 + 5ms);  // sent before recovery: no growth
  EXPECT_EQ(cc.window(), 6600u);

  // Congestion avoidance: one datagram per window of acknowledged bytes.
  for (int i = 0; i < 5; ++i) cc.on_acked(1200, t0 + 20ms);
  EXPECT_EQ(cc.window(), 6600u);
  cc.on_acked(600, t0 + 20ms);
  EXPECT_EQ(cc.window(), 7800u);

  cc.on_lost(t0 + 30ms, t0 + 40ms);  // a new round trip: halves again
  EXPECT_EQ(cc.window(), 3900u);
  for (int i = 0; i < 10; ++i) cc.on_lost(t0 + 50ms + std::chrono::milliseconds(10 * i), t0 + 55ms + std::chrono::milliseconds(10 * i));
  EXPECT_EQ(cc.window(), cc.minimum());  // never below two datagrams
}

}  // namespace
}  // namespace sockit::rudp
