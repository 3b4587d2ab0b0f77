// LoopCounters: the event loop's statistics as the loop thread keeps them
// (internal). One writer (the loop thread), any number of readers
// (EventLoop::stats() from any thread, e.g. a server's stats line): each counter
// is a relaxed atomic written with a plain load and store, so counting costs a
// loop no locked instruction and a reader never sees a torn value.
#pragma once

#include <atomic>
#include <cstdint>

#include "sockit/event/event_loop.hpp"

namespace sockit::event {

class Counter {
 public:
  void add(std::uint64_t n = 1) { set(get() + n); }
  void sub(std::uint64_t n = 1) { set(get() - n); }
  void set(std::uint64_t n) { value_.store(n, std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t get() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

// The fields of LoopStats, one Counter each (see LoopStats for their meaning).
struct LoopCounters {
  Counter turns, syscalls_wait, timers_fired, tasks_run, registered;
  Counter zc_sends, zc_copied, zc_refused;
  Counter events, receives_armed, buffer_ring_empty, cq_overflow;

  [[nodiscard]] LoopStats snapshot() const {
    LoopStats s;
    s.turns = turns.get();
    s.syscalls_wait = syscalls_wait.get();
    s.timers_fired = timers_fired.get();
    s.tasks_run = tasks_run.get();
    s.registered = registered.get();
    s.zc_sends = zc_sends.get();
    s.zc_copied = zc_copied.get();
    s.zc_refused = zc_refused.get();
    s.events = events.get();
    s.receives_armed = receives_armed.get();
    s.buffer_ring_empty = buffer_ring_empty.get();
    s.cq_overflow = cq_overflow.get();
    return s;
  }
};

}  // namespace sockit::event
