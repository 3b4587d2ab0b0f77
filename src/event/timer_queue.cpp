#include "event/timer_queue.hpp"

#include <algorithm>

namespace sockit::event {

std::uint64_t TimerQueue::add(Clock::time_point due, std::chrono::nanoseconds period, Task task) {
  const std::uint64_t id = next_id_++;
  entries_.emplace(id, Entry{due, period, std::move(task)});
  push({due, id});
  return id;
}

void TimerQueue::cancel(std::uint64_t id) {
  entries_.erase(id);
  // Lazy removal: the heap node stays until it surfaces or a compaction drops it.
  if (heap_.size() > 64 && heap_.size() > 2 * entries_.size()) compact();
}

void TimerQueue::push(Node node) {
  heap_.push_back(node);
  std::push_heap(heap_.begin(), heap_.end(), std::greater<>());
}

void TimerQueue::pop() {
  std::pop_heap(heap_.begin(), heap_.end(), std::greater<>());
  heap_.pop_back();
}

// A heap node is stale if its timer was cancelled, or re-armed (periodic) with a new due time.
void TimerQueue::drop_cancelled_top() {
  while (!heap_.empty()) {
    const auto it = entries_.find(heap_.front().id);
    if (it != entries_.end() && it->second.due == heap_.front().due) return;
    pop();
  }
}

void TimerQueue::compact() {
  std::erase_if(heap_, [&](const Node& n) {
    const auto it = entries_.find(n.id);
    return it == entries_.end() || it->second.due != n.due;
  });
  std::make_heap(heap_.begin(), heap_.end(), std::greater<>());
}

std::optional<std::chrono::nanoseconds> TimerQueue::time_to_next(Clock::time_point now) {
  drop_cancelled_top();
  if (heap_.empty()) return std::nullopt;
  const auto left = heap_.front().due - now;
  return std::max(std::chrono::duration_cast<std::chrono::nanoseconds>(left), std::chrono::nanoseconds::zero());
}

std::size_t TimerQueue::run_due(Clock::time_point now) {
  std::size_t ran = 0;
  // Timers added by the tasks run here wait for the next turn, so a task that
  // re-arms itself with zero delay cannot keep this call from returning.
  const std::uint64_t first_new_id = next_id_;
  for (;;) {
    drop_cancelled_top();
    if (heap_.empty() || heap_.front().due > now || heap_.front().id >= first_new_id) return ran;
    const std::uint64_t id = heap_.front().id;
    pop();
    auto it = entries_.find(id);
    Task task = std::move(it->second.task);
    const auto period = it->second.period;
    if (period > std::chrono::nanoseconds::zero()) {
      // Periodic: re-arm from the schedule, not from now, so it does not drift;
      // if the loop fell far behind, skip the missed beats rather than burst.
      auto next = it->second.due + period;
      if (next <= now) next = now + period;
      it->second.due = next;
      push({next, id});
    } else {
      entries_.erase(it);
    }
    ++ran;
    task();
    // The task may have cancelled itself (periodic): then its entry is gone and
    // there is nothing to put back. Otherwise hand the callable back.
    if (period > std::chrono::nanoseconds::zero()) {
      if (auto again = entries_.find(id); again != entries_.end() && !again->second.task) {
        again->second.task = std::move(task);
      }
    }
  }
}

}  // namespace sockit::event
