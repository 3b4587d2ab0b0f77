// `sockit load`: what one run is asked to do (LoadOptions), what each thread
// counts (LoadTally) and the driver that runs a mode's worker on T threads, each
// with its own EventLoop and a share of the connections (run_load).
//
// Threads share nothing on the message path: each has its own loop, connections,
// histogram and counters, summed after they are joined. What they share is
// LoadShared: the first fatal error (which stops every thread) and the latch
// that starts the echo mode's traffic once every connection is made.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <latch>
#include <mutex>
#include <optional>
#include <string>

#include "latency_histogram.hpp"
#include "load_payload.hpp"
#include "sockit/address.hpp"
#include "sockit/event/event_loop.hpp"
#include "sockit/net/connection.hpp"
#include "sockit/net/connector.hpp"
#include "sockit/net/framing.hpp"

namespace sockit::cli {

using LoadClock = std::chrono::steady_clock;

enum class LoadMode : std::uint8_t { echo, churn, flood };

// A server that has echoed nothing for this long while we wait for an echo has
// stopped answering: an error, so a run against a stalled server ends by itself.
inline constexpr std::chrono::seconds kNoEchoLimit{5};

struct LoadOptions {
  Address address;
  LoadMode mode = LoadMode::echo;
  std::string backend = "auto";
  unsigned threads = 1;
  std::size_t connections = 1;
  std::size_t depth = 1;  // echo: messages in flight per connection
  SizeRange sizes;
  net::Framing::Kind framing = net::Framing::Kind::raw;
  double rate = 0;  // echo: messages/s over all connections; 0 = closed loop
  std::chrono::nanoseconds warmup{0};
  std::optional<std::chrono::nanoseconds> duration;  // nullopt: --messages alone bounds the run
  std::uint64_t messages = 0;                        // 0: no bound
  std::uint64_t seed = 1;
  std::chrono::milliseconds connect_timeout{5000};
};

// One thread's share: connections numbered [first, first + count) (the numbers
// the payload and the error messages use) and its part of --rate.
struct LoadShare {
  std::size_t first = 0;
  std::size_t count = 0;
  double rate = 0;
};

// Connection k's part of --messages (N split as evenly as whole numbers allow);
// UINT64_MAX without --messages.
[[nodiscard]] std::uint64_t message_quota(const LoadOptions& options, std::size_t k);

// The calling thread's CPU so far (getrusage RUSAGE_THREAD).
struct CpuTime {
  std::chrono::microseconds user{0};
  std::chrono::microseconds system{0};
};
[[nodiscard]] CpuTime thread_cpu();

struct LoadTally {
  LatencyHistogram latency;     // echo: round trips; churn: connect to verified echo
  std::uint64_t messages = 0;   // echo: messages echoed and verified after the warm-up
  std::uint64_t bytes = 0;      // ... their payload bytes (one direction)
  // churn
  std::uint64_t exchanges = 0;       // connect, one verified echo, close (after the warm-up)
  std::uint64_t connect_failed = 0;  // connects refused, timed out, ...
  std::uint64_t closed_early = 0;    // closed or reset by the server before the echo
  // flood
  std::uint64_t served = 0;      // echoed the probe and held open to the end
  std::uint64_t dropped = 0;     // echoed the probe, then closed by the server
  std::uint64_t refused = 0;     // the connect failed
  std::uint64_t unanswered = 0;  // connected, no echo by the end (not accepted?)
  std::string first_connect_error;  // churn, flood: the cause of the first failed connect
  // The measured window (after the warm-up, to the end; merged: the earliest start
  // and the latest end) and the CPU the threads spent in it (getrusage per thread,
  // summed), to tell whether the load itself is the bottleneck.
  std::optional<LoadClock::time_point> window_start;
  std::optional<LoadClock::time_point> window_end;
  std::chrono::microseconds cpu_user{0};
  std::chrono::microseconds cpu_system{0};

  void add(const LoadTally& other);
  [[nodiscard]] double window_seconds() const;
};

class LoadShared {
 public:
  explicit LoadShared(unsigned threads) : connected_(threads) {}
  // Keeps the first message (without "sockit: load ADDR: ") and tells every thread.
  void fail(std::string message);
  [[nodiscard]] bool failed() const noexcept { return failed_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::string error() const;
  // Ctrl-C (SIGINT) or SIGTERM: every thread ends its run at its next check, as if
  // --duration had ended there; the report covers the run up to that moment.
  void interrupt() noexcept { interrupted_.store(true, std::memory_order_relaxed); }
  [[nodiscard]] bool interrupted() const noexcept { return interrupted_.load(std::memory_order_relaxed); }
  // Echo mode: each thread, once, when its connections are made (or it failed);
  // blocks until every thread has.
  void arrive_connected() { connected_.arrive_and_wait(); }

 private:
  std::latch connected_;
  std::atomic<bool> failed_{false};
  std::atomic<bool> interrupted_{false};
  mutable std::mutex mutex_;
  std::string error_;
};

// One thread's measured window: where it ends and the thread's CPU at both ends.
class MeasuredWindow {
 public:
  void start_cpu() { cpu_start_ = thread_cpu(); }
  // Ends the window at `at` and reads the CPU; later calls change nothing.
  void end(LoadClock::time_point at) {
    if (end_) return;
    end_ = at;
    cpu_end_ = thread_cpu();
  }
  // The window [start, end] and the CPU spent in it, into `tally` (a window that
  // never ended is empty).
  void report(LoadClock::time_point start, LoadTally& tally) const;

 private:
  std::optional<LoadClock::time_point> end_;
  std::optional<CpuTime> cpu_start_;
  std::optional<CpuTime> cpu_end_;
};

// -v: one line for a connection's failure or early close, for the first few of
// each thread (a refusing server would otherwise print thousands); later ones
// are only counted.
void note_failure(std::size_t& noted, std::uint64_t connection, std::string_view what);

// What every mode's connections are made with: the framing (a longer echo than
// the largest message is a protocol error on that connection), and the close's linger.
[[nodiscard]] net::ConnectionOptions load_connection_options(const LoadOptions& options,
                                                             std::chrono::milliseconds close_linger);
// A connector to the server with --connect-timeout per attempt and in all.
[[nodiscard]] Result<std::unique_ptr<net::Connector>> load_connector(event::EventLoop& loop,
                                                                     const LoadOptions& options,
                                                                     unsigned max_attempts);

// A mode's worker: runs on its thread's loop until its share is done or the
// run fails, and returns what it counted.
struct LoadContext {
  event::EventLoop& loop;
  const LoadOptions& options;
  LoadShare share;
  LoadShared& shared;
};
LoadTally run_echo_share(LoadContext& context);
LoadTally run_churn_share(LoadContext& context);
LoadTally run_flood_share(LoadContext& context);

struct LoadResult {
  LoadTally tally;
  std::string error;         // empty: no fatal error
  std::string backend;       // the backend the loops run on
  int interrupted_by = 0;    // the stop signal that ended the run early (0: none)
};

// How often a worker looks at the shared state (another thread's failure, an
// interruption): the longest a Ctrl-C waits before the threads start ending.
inline constexpr std::chrono::milliseconds kLoadCheckInterval{100};

// Runs the whole load and joins its threads; never throws for I/O errors.
// `stop_signals` (a signalfd from open_stop_signals(), or -1): the first signal
// on it ends the run early with its report, a second one aborts it at once.
[[nodiscard]] LoadResult run_load(const LoadOptions& options, int stop_signals = -1);

}  // namespace sockit::cli
