#include "load_run.hpp"

#include <sys/eventfd.h>
#include <sys/resource.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <thread>
#include <vector>

#include <fmt/core.h>

#include "errors.hpp"
#include "log.hpp"
#include "signals.hpp"

namespace sockit::cli {

void LoadTally::add(const LoadTally& other) {
  latency.merge(other.latency);
  messages += other.messages;
  bytes += other.bytes;
  exchanges += other.exchanges;
  connect_failed += other.connect_failed;
  closed_early += other.closed_early;
  served += other.served;
  dropped += other.dropped;
  refused += other.refused;
  unanswered += other.unanswered;
  if (first_connect_error.empty()) first_connect_error = other.first_connect_error;
  if (other.window_start && (!window_start || *other.window_start < *window_start)) window_start = other.window_start;
  if (other.window_end && (!window_end || *other.window_end > *window_end)) window_end = other.window_end;
  cpu_user += other.cpu_user;
  cpu_system += other.cpu_system;
}

double LoadTally::window_seconds() const {
  if (!window_start || !window_end || *window_end <= *window_start) return 0;
  return std::chrono::duration<double>(*window_end - *window_start).count();
}

void LoadShared::fail(std::string message) {
  std::lock_guard lock(mutex_);
  if (!failed_.load(std::memory_order_relaxed)) error_ = std::move(message);
  failed_.store(true, std::memory_order_relaxed);
}

std::string LoadShared::error() const {
  std::lock_guard lock(mutex_);
  return error_;
}

std::uint64_t message_quota(const LoadOptions& options, std::size_t k) {
  if (options.messages == 0) return std::numeric_limits<std::uint64_t>::max();
  const std::uint64_t c = options.connections;
  return options.messages / c + (k < options.messages % c ? 1 : 0);
}

CpuTime thread_cpu() {
  rusage usage{};
  ::getrusage(RUSAGE_THREAD, &usage);
  auto us = [](const timeval& t) { return std::chrono::microseconds(t.tv_sec * 1'000'000LL + t.tv_usec); };
  return {us(usage.ru_utime), us(usage.ru_stime)};
}

void MeasuredWindow::report(LoadClock::time_point start, LoadTally& tally) const {
  tally.window_start = start;
  tally.window_end = end_.value_or(start);
  const CpuTime stop = cpu_end_.value_or(thread_cpu());
  const CpuTime begin = cpu_start_.value_or(stop);
  tally.cpu_user = stop.user - begin.user;
  tally.cpu_system = stop.system - begin.system;
}

void note_failure(std::size_t& noted, std::uint64_t connection, std::string_view what) {
  constexpr std::size_t kNotedPerThread = 10;
  if (!verbose() || noted > kNotedPerThread) return;
  if (++noted > kNotedPerThread) return note("load: further failures on this thread are only counted");
  note("load: connection {}: {}", connection, what);
}

net::ConnectionOptions load_connection_options(const LoadOptions& options, std::chrono::milliseconds close_linger) {
  net::ConnectionOptions connection;
  connection.close_linger = close_linger;
  connection.framing.kind = options.framing;
  connection.framing.max_frame = options.sizes.max;
  return connection;
}

Result<std::unique_ptr<net::Connector>> load_connector(event::EventLoop& loop, const LoadOptions& options,
                                                       unsigned max_attempts) {
  return net::Connector::create(loop, options.address,
                                {.attempt_timeout = options.connect_timeout,
                                 .total_timeout = options.connect_timeout,
                                 .max_attempts = max_attempts,
                                 .initial_backoff = std::chrono::milliseconds(20),
                                 .max_backoff = std::chrono::milliseconds(500)});
}

namespace {

struct ThreadOutcome {
  LoadTally tally;
  std::string backend;
};

LoadTally run_share(LoadContext& context) {
  switch (context.options.mode) {
    case LoadMode::echo: return run_echo_share(context);
    case LoadMode::churn: return run_churn_share(context);
    case LoadMode::flood: return run_flood_share(context);
  }
  return {};
}

void run_share_on_own_loop(const LoadOptions& options, LoadShare share, LoadShared& shared, ThreadOutcome& outcome) {
  // Made on the thread that runs it: the loop thread is its creator.
  auto loop = event::EventLoop::create({.backend = options.backend});
  if (!loop) {
    shared.fail("event loop (--backend " + options.backend + "): " + describe(loop.error()));
    if (options.mode == LoadMode::echo) shared.arrive_connected();  // the others wait for every thread
    return;
  }
  outcome.backend = (*loop)->backend().name;
  LoadContext context{**loop, options, share, shared};
  outcome.tally = run_share(context);
}

void run_thread(const LoadOptions& options, LoadShare share, LoadShared& shared, ThreadOutcome& outcome,
                int done) {
  run_share_on_own_loop(options, share, shared, outcome);
  const std::uint64_t one = 1;
  if (done >= 0) (void)!::write(done, &one, sizeof one);  // wakes the main thread's wait
}

// Waits for the threads while watching for a stop signal: the first ends the run
// early (the threads see it within kLoadCheckInterval), a second one fails it, which
// aborts every connection at once. Returns the first signal's number (0: none).
int watch_for_interruption(int stop_signals, int done, unsigned threads, LoadShared& shared) {
  int first = 0;
  std::uint64_t finished = 0;
  while (finished < threads) {
    auto woke = wait_for_stop_signal(stop_signals, std::chrono::milliseconds(0), [] {}, done);
    if (!woke) return first;  // poll(2) failed: the threads still end by themselves
    if (woke->extra_ready) {
      std::uint64_t count = 0;
      if (::read(done, &count, sizeof count) == static_cast<ssize_t>(sizeof count)) finished += count;
      continue;
    }
    if (first == 0) {
      first = woke->signal;
      fmt::print(stderr, "sockit: load: {}: ending the run, the report covers it up to now (again to abort)\n",
                 strsignal(first));
      std::fflush(stderr);
      shared.interrupt();
    } else {
      shared.fail("interrupted twice: stopped at once");
    }
  }
  return first;
}

}  // namespace

LoadResult run_load(const LoadOptions& options, int stop_signals) {
  const unsigned threads = options.threads;
  LoadShared shared(threads);
  // Each thread adds 1 when it is done, so the main thread can wait for a stop
  // signal and for the end at once. Without one (no signalfd, or eventfd failed),
  // a plain join: the run still ends by itself, only Ctrl-C is not reported.
  const Fd done(stop_signals >= 0 ? ::eventfd(0, EFD_CLOEXEC) : -1);
  std::vector<ThreadOutcome> outcomes(threads);
  std::vector<std::thread> workers;
  workers.reserve(threads);
  for (unsigned t = 0; t < threads; ++t) {
    LoadShare share;
    share.first = options.connections * t / threads;
    share.count = options.connections * (t + 1) / threads - share.first;
    share.rate = options.rate * static_cast<double>(share.count) / static_cast<double>(options.connections);
    workers.emplace_back(run_thread, std::cref(options), share, std::ref(shared), std::ref(outcomes[t]), done.get());
  }
  LoadResult result;
  if (done.valid()) result.interrupted_by = watch_for_interruption(stop_signals, done.get(), threads, shared);
  for (std::thread& worker : workers) worker.join();
  for (const ThreadOutcome& outcome : outcomes) {
    result.tally.add(outcome.tally);
    if (result.backend.empty()) result.backend = outcome.backend;
  }
  result.error = shared.error();
  return result;
}

}  // namespace sockit::cli
