// LoopCore: the EventLoop's insides (internal). Owns the slot table, the engine,
// the timer heap, the cross-thread task queue with its eventfd, and the signalfd.
//
// Engines report completions through complete_*(); each checks the SlotRef's
// generation first and drops a completion for a freed (or reused) slot. Callbacks
// may do anything, including destroying their own or other IoHandles, so the core
// moves a callback out of its slot before calling it and puts it back afterwards
// only if the slot is still the same and nothing replaced it.
//
// Loop thread only, except post() and stop().
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "event/engine.hpp"
#include "event/loop_counters.hpp"
#include "event/timer_queue.hpp"
#include "sockit/event/event_loop.hpp"
#include "sockit/event/io_handle.hpp"

namespace sockit::event {

class LoopCore {
 public:
  static Result<std::unique_ptr<LoopCore>> create(const LoopOptions& options);
  ~LoopCore();

  // --- used by EventLoop ------------------------------------------------------------
  [[nodiscard]] const BackendInfo& backend() const { return engine_->info(); }
  [[nodiscard]] LoopStats stats() const { return counters_.snapshot(); }  // any thread
  Status run_once(std::optional<std::chrono::nanoseconds> max_wait);
  void run();
  void stop();                // any thread
  void post(Task task);       // any thread
  void defer(Task task);      // loop thread: runs at the end of this turn
  [[nodiscard]] bool in_loop_thread() const { return std::this_thread::get_id() == owner_.load(); }
  void adopt_current_thread() { owner_.store(std::this_thread::get_id()); }
  std::uint64_t add_timer(std::chrono::nanoseconds delay, std::chrono::nanoseconds period, Task task);
  void cancel_timer(std::uint64_t id);
  [[nodiscard]] bool timer_active(std::uint64_t id) const;
  Result<int> add_signal(int signo, std::move_only_function<void(int)> handler);
  void remove_signal(int signo);
  Result<IoHandle> watch(int fd);

  // --- used by IoHandle ------------------------------------------------------------
  void free_slot(SlotRef ref);
  void start_accept(SlotRef ref, AcceptFn fn);
  void start_receive(SlotRef ref, ReceiveFn fn);
  void set_receive_paused(SlotRef ref, bool paused);
  void start_send(SlotRef ref, std::span<const std::span<const std::byte>> buffers, SendFn fn,
                  std::shared_ptr<const void> owner = nullptr);
  // IoHandle::send_now writes at once (readiness engines) or leaves every send to
  // the engine's batch (io_uring).
  [[nodiscard]] bool sends_at_once() const { return sends_at_once_; }
  void start_connect(SlotRef ref, const Endpoint& endpoint, ConnectFn fn);

  // --- used by engines -----------------------------------------------------------------
  // The slot for `ref`, or nullptr if it was freed since.
  // Inline: several lookups per message on every backend.
  Slot* slot(SlotRef ref) {
    if (ref.index >= slots_.size()) return nullptr;
    Slot& s = slots_[ref.index];
    return s.in_use && s.generation == ref.generation ? &s : nullptr;
  }
  // Each returns true if the slot is still alive afterwards.
  bool complete_accept(SlotRef ref, Result<Fd> result);
  bool complete_receive(SlotRef ref, Result<std::span<const std::byte>> result);
  bool complete_send(SlotRef ref, Result<std::size_t> result);
  bool complete_connect(SlotRef ref, Status result);
  LoopCounters& counters() { return counters_; }

  // Debug-build check for loop-thread-only methods.
  void assert_loop_thread() const;
  // Weaker debug check for releasing things (a handle's slot, a signal handler,
  // a timer's state): allowed from another thread only while no thread runs the
  // loop, e.g. a Server destroying its connections after joining its workers.
  void assert_loop_thread_or_stopped() const;

 private:
  LoopCore() = default;
  Status init(const LoopOptions& options);
  SlotRef allocate_slot(int fd);
  void drain_posted();
  void run_deferred();
  void on_signalfd_readable(std::span<const std::byte> data);
  std::optional<std::chrono::nanoseconds> wait_budget(std::optional<std::chrono::nanoseconds> max_wait);

  std::unique_ptr<Engine> engine_;
  bool sends_at_once_ = false;
  std::vector<Slot> slots_;
  std::vector<std::uint32_t> free_slots_;

  TimerQueue timers_;

  // Cross-thread tasks: a mutex-guarded queue and an eventfd to wake the loop.
  std::mutex posted_mutex_;
  std::vector<Task> posted_;
  std::vector<Task> deferred_;  // loop thread only: no lock
  std::vector<Task> deferred_running_;  // the batch being run (its capacity is kept)
  Fd wake_fd_;
  IoHandle wake_handle_;
  std::atomic<bool> wake_pending_{false};

  // Signals delivered through one signalfd, re-created when the set changes.
  Fd signal_fd_;
  IoHandle signal_handle_;
  std::map<int, std::move_only_function<void(int)>> signal_handlers_;

  std::atomic<bool> stop_requested_{false};
  std::atomic<bool> running_{false};  // inside run() or run_once(), on owner_'s thread
  std::atomic<std::thread::id> owner_{std::this_thread::get_id()};
  LoopCounters counters_;  // LoopCounters::registered counts the live slots
};

}  // namespace sockit::event
