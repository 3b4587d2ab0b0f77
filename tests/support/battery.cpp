#include "support/battery.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

namespace sockit::test {

Measurement::Measurement(pid_t pid) : pid_(pid) {
  baseline_fds_ = open_fd_count_of(pid);
  const bool reset = reset_peak_rss(pid);
  const auto memory = memory_of(pid);
  ok_ = reset && memory && baseline_fds_ > 0;
  if (memory) baseline_ = *memory;
  sampler_ = std::make_unique<DescriptorSampler>(pid);
}

Measurement::Held Measurement::held() const {
  Held h;
  const auto memory = memory_of(pid_);
  h.ok = ok_ && memory.has_value();
  h.baseline_fds = baseline_fds_;
  h.peak_fds = std::max(sampler_->peak(), open_fd_count_of(pid_));
  if (memory) {
    h.rss_growth_kib = memory->peak_rss_kib - baseline_.rss_kib;
    h.address_space_growth_kib = memory->peak_size_kib - baseline_.peak_size_kib;
  }
  return h;
}

::testing::AssertionResult bounds_held(const CaseFigures& f) {
  if (!f.held.ok) return ::testing::AssertionFailure() << "the server process could not be measured";
  if (!f.client.error.empty()) return ::testing::AssertionFailure() << "the well-behaved client: " << f.client.error;
  if (f.client.bytes_lost != 0) return ::testing::AssertionFailure() << f.client.bytes_lost << " bytes lost";
  if (f.client.round_trips == 0) return ::testing::AssertionFailure() << "the well-behaved client was never served";
  if (f.held.rss_growth_kib > f.rss_bound_kib) {
    return ::testing::AssertionFailure() << "RSS grew by " << f.held.rss_growth_kib << " KiB, bound "
                                         << f.rss_bound_kib << " KiB";
  }
  if (f.held.peak_fds - f.held.baseline_fds > f.fd_bound) {
    return ::testing::AssertionFailure() << "descriptors went from " << f.held.baseline_fds << " to "
                                         << f.held.peak_fds << ", bound +" << f.fd_bound;
  }
  return ::testing::AssertionSuccess();
}

void report_case(const CaseFigures& f) {
  // A datagram client's resends go with what it was served (see well_behaved_datagram_client.hpp).
  const std::string resends =
      f.client.resends ? ", " + std::to_string(*f.client.resends) + " requests resent" : std::string();
  char line[1024];
  std::snprintf(line, sizeof line,
                "HOSTILE|%s|%s|%s|%lld ms|rss +%lld KiB (bound %lld)|vm peak +%lld KiB|fds %d->%d (bound +%d)|"
                "served %d round trips, %llu bytes verified, slowest %lld ms%s|lost %llu",
                f.name.c_str(), f.backend.c_str(), f.load.c_str(), static_cast<long long>(f.duration.count()),
                static_cast<long long>(f.held.rss_growth_kib), static_cast<long long>(f.rss_bound_kib),
                static_cast<long long>(f.held.address_space_growth_kib), f.held.baseline_fds, f.held.peak_fds,
                f.fd_bound, f.client.round_trips, static_cast<unsigned long long>(f.client.bytes_verified),
                static_cast<long long>(f.client.slowest.count() / 1000), resends.c_str(),
                static_cast<unsigned long long>(f.client.bytes_lost));
  std::printf("%s\n", line);
  std::fflush(stdout);
  ::testing::Test::RecordProperty("hostile", line);
}

}  // namespace sockit::test
