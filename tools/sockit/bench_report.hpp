// What `sockit bench` found, and the ways it is written out: the article's
// trade-off table with measured columns beside its words, the detail tables,
// JSON and CSV. Figures only: the measuring is in bench_run.
//
// Units, everywhere: latencies in nanoseconds in JSON/CSV and microseconds in the
// tables; MB is 10^6 bytes; an RTT is a full round trip (request and reply).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bench_run.hpp"

namespace sockit::cli {

struct BenchMachine {
  std::string kernel;     // uname: "Linux 6.1.0-18-amd64 x86_64"
  std::string cpu_model;  // /proc/cpuinfo's "model name", or "unknown"
  unsigned cores = 0;     // online CPUs
  BenchCpus pinned;       // where the two processes ran
};
[[nodiscard]] BenchMachine describe_machine(const BenchCpus& pinned);

// A histogram reduced to what is reported.
struct RttSummary {
  std::uint64_t round_trips = 0;
  std::uint64_t min = 0, p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0;
  double mean = 0;
};
[[nodiscard]] RttSummary summarize(const LatencyHistogram& histogram);

struct BenchRow {
  BenchCase bench_case;
  // Measured, or else why not (a message too large for the transport, a path
  // it has not, a backend the kernel refused).
  std::optional<RttSummary> rtt;
  std::uint64_t messages = 0;
  std::uint64_t bytes = 0;
  double seconds = 0;
  int granted_send = 0;     // sweep rows: SO_SNDBUF/SO_RCVBUF as the kernel reported them
  int granted_receive = 0;
  std::string skipped;
  bool failed = false;  // skipped because the measurement failed (an error, not a limit)

  [[nodiscard]] bool measured() const { return skipped.empty(); }
  [[nodiscard]] double messages_per_second() const { return seconds > 0 ? messages / seconds : 0; }
  [[nodiscard]] double megabytes_per_second() const { return seconds > 0 ? bytes / seconds / 1e6 : 0; }
};

struct BenchReport {
  BenchMachine machine;
  BenchTiming timing;
  std::size_t rtt_size = 64;
  std::vector<std::size_t> sizes;
  std::vector<std::string> backends;
  std::vector<BenchRow> rows;
  // --buffer-sweep: per stream transport and buffer size, an RTT row (at
  // rtt_size) and a throughput row (at the largest size), raw syscalls.
  std::vector<BenchRow> sweep;
};

// The sizes the sweep asks for, after the kernel's default (0).
inline constexpr int kSweepBuffers[] = {0, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20};
// With --quick: every other size, so the sweep adds seconds, not tens of them.
inline constexpr int kQuickSweepBuffers[] = {0, 4 << 10, 64 << 10, 1 << 20};

// The row that stands for `transport` in the summary and the plot: raw syscalls
// (the floor), or sockit for the ring, which has no other path; nullptr if none.
[[nodiscard]] const BenchRow* floor_row(const BenchReport& report, std::string_view transport, BenchMeasure measure,
                                        std::size_t size);

// The tables for a person, on stdout.
void print_bench_tables(const BenchReport& report);
[[nodiscard]] std::string bench_json(const BenchReport& report);
[[nodiscard]] std::string bench_csv(const BenchReport& report);

// "64 B", "1 KiB", "64 KiB".
[[nodiscard]] std::string size_label(std::size_t bytes);

}  // namespace sockit::cli
