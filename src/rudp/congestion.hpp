// NewReno congestion control in bytes, after RFC 9002 section 7 (docs/RUDP.md,
// "Congestion control"). Knows nothing of packets beyond their size and send
// time; the connection tells it what was acknowledged and what was lost.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>

#include "sockit/rudp/config.hpp"

namespace sockit::rudp {

class NewReno {
 public:
  explicit NewReno(std::uint64_t max_datagram)
      : max_datagram_(max_datagram),
        cwnd_(std::min<std::uint64_t>(10 * max_datagram, std::max<std::uint64_t>(2 * max_datagram, 14720))) {}

  std::uint64_t window() const { return cwnd_; }
  std::uint64_t minimum() const { return 2 * max_datagram_; }
  bool in_slow_start() const { return cwnd_ < ssthresh_; }

  void on_acked(std::uint64_t bytes, Instant time_sent) {
    if (in_recovery_ && time_sent <= recovery_start_) return;  // sent before the reduction
    if (in_slow_start()) {
      cwnd_ += bytes;
    } else {
      // Accumulate so that small packets still add up to one datagram per window.
      acked_in_avoidance_ += bytes;
      if (acked_in_avoidance_ >= cwnd_) {
        acked_in_avoidance_ -= cwnd_;
        cwnd_ += max_datagram_;
      }
    }
  }

  // One reduction per round trip: losses of packets sent before the last
  // reduction began do not reduce again.
  void on_lost(Instant largest_lost_sent, Instant now) {
    if (in_recovery_ && largest_lost_sent <= recovery_start_) return;
    in_recovery_ = true;
    recovery_start_ = now;
    ssthresh_ = std::max(cwnd_ / 2, minimum());
    cwnd_ = ssthresh_;
    acked_in_avoidance_ = 0;
  }

 private:
  std::uint64_t max_datagram_;
  std::uint64_t cwnd_;
  std::uint64_t ssthresh_ = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t acked_in_avoidance_ = 0;
  bool in_recovery_ = false;
  Instant recovery_start_{};
};

}  // namespace sockit::rudp
