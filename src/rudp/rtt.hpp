// Round-trip time estimation after RFC 9002 section 5 (RFC 6298's constants), in
// microseconds: a millisecond clock (ENet's) reads 0 or 1 on a fast link and its
// retransmission timer is then meaningless.
#pragma once

#include <algorithm>
#include <chrono>

#include "sockit/rudp/config.hpp"

namespace sockit::rudp {

class RttEstimator {
 public:
  static constexpr Duration kInitialRtt = std::chrono::milliseconds(333);
  static constexpr Duration kGranularity = std::chrono::milliseconds(1);

  // `ack_delay` is what the peer reported, already capped at its max_ack_delay.
  void on_sample(Duration latest, Duration ack_delay) {
    latest = std::max(latest, Duration(1));
    latest_ = latest;
    if (!has_sample_) {
      has_sample_ = true;
      min_ = smoothed_ = latest;
      var_ = latest / 2;
      return;
    }
    min_ = std::min(min_, latest);
    Duration adjusted = latest;
    if (latest >= min_ + ack_delay) adjusted = latest - ack_delay;
    const Duration deviation = smoothed_ > adjusted ? smoothed_ - adjusted : adjusted - smoothed_;
    var_ = (3 * var_ + deviation) / 4;
    smoothed_ = (7 * smoothed_ + adjusted) / 8;
  }

  bool has_sample() const { return has_sample_; }
  Duration smoothed() const { return has_sample_ ? smoothed_ : kInitialRtt; }
  Duration variance() const { return has_sample_ ? var_ : kInitialRtt / 2; }
  Duration min() const { return min_; }
  Duration latest() const { return latest_; }

  // The probe timeout before backoff: srtt + max(4 rttvar, 1 ms) + peer max_ack_delay.
  Duration pto(Duration peer_max_ack_delay) const {
    return smoothed() + std::max(4 * variance(), kGranularity) + peer_max_ack_delay;
  }
  // Time threshold of loss detection: 9/8 max(srtt, latest), at least 1 ms.
  Duration loss_delay() const {
    return std::max(std::max(smoothed(), latest_) * 9 / 8, kGranularity);
  }

 private:
  bool has_sample_ = false;
  Duration smoothed_{0};
  Duration var_{0};
  Duration min_{0};
  Duration latest_{0};
};

}  // namespace sockit::rudp
