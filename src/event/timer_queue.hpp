// TimerQueue: one-shot and periodic timers for a loop (internal).
//
// A binary heap ordered by due time gives O(log n) arm and expiry; cancel is O(1)
// (the entry is erased from the id map and its heap node is skipped when it comes
// up), so an idle-timeout per connection costs nothing per loop turn until it is due.
// Heap nodes of cancelled timers are compacted away when they outnumber live ones,
// so churn cannot grow memory without bound.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <unordered_map>
#include <vector>

namespace sockit::event {

class TimerQueue {
 public:
  using Clock = std::chrono::steady_clock;
  using Task = std::move_only_function<void()>;

  // `period` zero = one-shot. Returns an id (never 0).
  std::uint64_t add(Clock::time_point due, std::chrono::nanoseconds period, Task task);
  void cancel(std::uint64_t id);
  [[nodiscard]] bool active(std::uint64_t id) const { return entries_.contains(id); }
  // Time until the earliest live timer (zero if overdue), or nullopt if none.
  [[nodiscard]] std::optional<std::chrono::nanoseconds> time_to_next(Clock::time_point now);
  // Runs every timer due at `now`; returns how many ran. A task may add or cancel timers.
  std::size_t run_due(Clock::time_point now);
  [[nodiscard]] std::size_t size() const { return entries_.size(); }

 private:
  struct Node {
    Clock::time_point due;
    std::uint64_t id;
    bool operator>(const Node& other) const { return due > other.due || (due == other.due && id > other.id); }
  };
  struct Entry {
    Clock::time_point due;
    std::chrono::nanoseconds period;
    Task task;
  };
  void push(Node node);
  void pop();
  void drop_cancelled_top();
  void compact();

  std::vector<Node> heap_;
  std::unordered_map<std::uint64_t, Entry> entries_;
  std::uint64_t next_id_ = 1;
};

}  // namespace sockit::event
