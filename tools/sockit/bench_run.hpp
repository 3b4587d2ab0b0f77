// One `sockit bench` measurement: connect a transport, fork, pin the two
// processes to their cores, warm up, measure, then end the child.
//
//  - RTT: the parent sends a message and waits for the child's echo, again and
//    again; each round trip (send to reply, a full RTT, not RTT/2) goes into a
//    LatencyHistogram. One message in flight; with a fixed rate, each is timed
//    from when it was due (see measure_rtt).
//  - Throughput: the child sends messages as fast as it can; the parent receives
//    and counts them. Figures are what arrived (for UDP, datagrams the kernel
//    dropped are not counted: the rate is the receiver's).
// The warm-up (the first `warmup` of each run) is excluded from every figure; the
// child is killed (SIGKILL) when the parent has its figures, and also if the
// parent dies first (PR_SET_PDEATHSIG), so no run outlives the command.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "bench_ends.hpp"
#include "latency_histogram.hpp"
#include "bench_transports.hpp"
#include "sockit/result.hpp"

namespace sockit::cli {

enum class BenchMeasure { rtt, throughput };

struct BenchCase {
  const BenchTransport* transport = nullptr;
  BenchPath path;
  BenchMeasure measure = BenchMeasure::rtt;
  std::size_t message_size = 64;
  // The buffer sweep (stream sockets only): SO_SNDBUF and SO_RCVBUF asked for on
  // both ends before the fork; 0 leaves the kernel's default (then only read).
  // nullopt: not a sweep row, nothing set or read.
  std::optional<int> socket_buffer;
};

struct BenchTiming {
  std::chrono::nanoseconds warmup{std::chrono::milliseconds(100)};
  std::chrono::nanoseconds duration{std::chrono::seconds(1)};
  // A reply (or the next streamed message) that takes longer ends the run with
  // an error instead of a hang (a lost UDP datagram, a wedged peer).
  std::chrono::milliseconds reply_timeout{std::chrono::seconds(2)};
  // RTT at a fixed rate (round trips per second), latency from each ping's
  // scheduled send time; 0: closed loop (the next ping when the reply is in).
  double rate = 0;
};

// The CPUs the two processes are pinned to, when there are two or more.
struct BenchCpus {
  std::optional<int> parent;
  std::optional<int> child;
};
// Chooses the first two CPUs this process may run on and pins the caller to the
// first; empty when only one is allowed (then the processes share it).
[[nodiscard]] BenchCpus pin_bench_cpus();

struct BenchFigures {
  // RTT
  LatencyHistogram rtt;
  // throughput
  std::uint64_t messages = 0;
  std::uint64_t bytes = 0;
  double seconds = 0;  // the measured span (without the warm-up)
  // Sweep rows: what getsockopt reported on the parent's end after the sizes were
  // set (Linux doubles what is asked and caps it at net.core.wmem_max/rmem_max).
  int granted_send = 0;
  int granted_receive = 0;
};

[[nodiscard]] Result<BenchFigures> run_bench_case(const BenchCase& bench_case, const BenchTiming& timing,
                                                  const BenchCpus& cpus, const std::string& temp_dir,
                                                  unsigned serial);

}  // namespace sockit::cli
