// The hostile-client battery's measurements (tests/hostile/): what a server in a
// child process holds while it is attacked, and the one line per case from which
// docs/RELIABILITY.md is filled.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "support/process_probe.hpp"
#include "support/well_behaved_client.hpp"

namespace sockit::test {

// Takes the baseline when made (descriptors now, peak RSS reset to the current
// RSS, peak address space) and samples descriptors until held() is read.
class Measurement {
 public:
  explicit Measurement(pid_t pid);
  struct Held {
    std::int64_t rss_growth_kib = 0;         // peak RSS during the attack minus RSS before it
    std::int64_t address_space_growth_kib = 0;  // VmPeak growth: a huge allocation shows here even untouched
    int baseline_fds = 0;
    int peak_fds = 0;  // sampled
    bool ok = false;   // the process could be read
  };
  [[nodiscard]] Held held() const;

 private:
  pid_t pid_;
  int baseline_fds_ = 0;
  ProcessMemory baseline_{};
  bool ok_ = false;
  std::unique_ptr<DescriptorSampler> sampler_;
};

struct CaseFigures {
  std::string name;     // the case
  std::string backend;
  std::string load;     // what was applied, in words
  std::chrono::milliseconds duration{0};
  Measurement::Held held;
  std::int64_t rss_bound_kib = 0;
  int fd_bound = 0;  // peak descriptors allowed above the baseline
  WellBehavedResult client;
};

// The case's verdict on its figures: the process was measured, the well-behaved
// client was served throughout with nothing lost, RSS growth and descriptors
// stayed within their bounds.
::testing::AssertionResult bounds_held(const CaseFigures& figures);

// One line on stdout ("HOSTILE|case|backend|...") and the same as a test property.
void report_case(const CaseFigures& figures);

}  // namespace sockit::test
