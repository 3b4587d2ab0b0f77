// LoopCounters: the event loop's statistics as the loop thread keeps them
// (internal). One writer (the loop thread), any number of readers
// (EventLoop::stats() from any thread, e.g. a server's stats line): each counter
// is written through a relaxed atomic_ref with a plain load and store, so counting
// costs a loop no locked instruction and a reader never sees a torn value.
//
// The counters are a LoopStats itself, so a new statistic is declared once (in
// LoopStats) and listed once (kLoopStatsFields) for the snapshot and for sums.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "sockit/event/event_loop.hpp"

namespace sockit::event {

using LoopStatsField = std::uint64_t LoopStats::*;

// Every field of LoopStats (a static_assert below keeps the list complete).
inline constexpr std::array<LoopStatsField, 13> kLoopStatsFields = {
    &LoopStats::turns,     &LoopStats::syscalls_wait,  &LoopStats::timers_fired,      &LoopStats::tasks_run,
    &LoopStats::registered, &LoopStats::zc_sends,      &LoopStats::zc_copied,         &LoopStats::zc_refused,
    &LoopStats::events,    &LoopStats::receives_armed, &LoopStats::buffer_ring_empty, &LoopStats::cq_overflow,
    &LoopStats::hangup_rechecks,
};
static_assert(sizeof(LoopStats) == kLoopStatsFields.size() * sizeof(std::uint64_t),
              "a LoopStats field is missing from kLoopStatsFields");

class LoopCounters {
 public:
  void add(LoopStatsField field, std::uint64_t n = 1) { set(field, get(field) + n); }
  void sub(LoopStatsField field, std::uint64_t n = 1) { set(field, get(field) - n); }

  [[nodiscard]] LoopStats snapshot() const {
    LoopStats s;
    for (LoopStatsField field : kLoopStatsFields) s.*field = get(field);
    return s;
  }

 private:
  [[nodiscard]] std::uint64_t get(LoopStatsField field) const {
    return std::atomic_ref<std::uint64_t>(values_.*field).load(std::memory_order_relaxed);
  }
  void set(LoopStatsField field, std::uint64_t n) {
    std::atomic_ref<std::uint64_t>(values_.*field).store(n, std::memory_order_relaxed);
  }

  // mutable: atomic_ref (C++20) takes only a non-const object, even to load.
  alignas(std::atomic_ref<std::uint64_t>::required_alignment) mutable LoopStats values_;
};

}  // namespace sockit::event
