// Looking at another process from outside, for tests that run a server in a
// child (support/child.hpp) and bound what it holds: its descriptors
// (/proc/PID/fd) and its memory (/proc/PID/status).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <thread>

namespace sockit::test {

// Entries in /proc/PID/fd (those numbered `from` or more); -1 if the process
// cannot be read.
int open_fd_count_of(pid_t pid, int from = 0);

// Waits (every 5 ms, `limit` at most) until PID has at most `n` descriptors open.
bool fd_count_falls_to(pid_t pid, int n, std::chrono::milliseconds limit = std::chrono::seconds(10));

// /proc/PID/status, in KiB.
struct ProcessMemory {
  std::int64_t rss_kib = 0;        // VmRSS
  std::int64_t peak_rss_kib = 0;   // VmHWM: since start, or since reset_peak_rss()
  std::int64_t size_kib = 0;       // VmSize: address space, touched or not
  std::int64_t peak_size_kib = 0;  // VmPeak
};
std::optional<ProcessMemory> memory_of(pid_t pid);

// CPU time the process has used (utime + stime, /proc/PID/stat), in clock ticks
// (sysconf(_SC_CLK_TCK) a second); -1 if the process cannot be read. The
// difference over a window bounds a spin: a loop that never waits uses the whole
// window, a waiting one almost none of it.
long cpu_ticks_of(pid_t pid);

// Makes VmHWM start again from the current VmRSS (/proc/PID/clear_refs, "5").
bool reset_peak_rss(pid_t pid);

// Samples a process's descriptor count every few milliseconds on a thread of its
// own, keeping the highest seen: a measurement beside the test, never something a
// test waits on. The peak of a short spike between two samples can be missed, so
// bounds on it are upper bounds that a sample cannot exceed falsely.
class DescriptorSampler {
 public:
  explicit DescriptorSampler(pid_t pid);
  ~DescriptorSampler();
  DescriptorSampler(const DescriptorSampler&) = delete;
  DescriptorSampler& operator=(const DescriptorSampler&) = delete;
  [[nodiscard]] int peak() const { return peak_.load(); }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int> peak_{0};
  std::thread thread_;
};

}  // namespace sockit::test
