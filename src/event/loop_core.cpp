#include "event/loop_core.hpp"

#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cassert>
#include <cstring>

#include "sys/error.hpp"
#include "sys/syscalls.hpp"

namespace sockit::event {

Result<std::unique_ptr<LoopCore>> LoopCore::create(const LoopOptions& options) {
  std::unique_ptr<LoopCore> core(new LoopCore());
  if (auto s = core->init(options); !s) return fail(s.error());
  return core;
}

Status LoopCore::init(const LoopOptions& options) {
  std::string name = options.backend;
  // "auto" is the engine measured fastest for sockit's own server workloads:
  // level-triggered epoll. io_uring was equal within noise on TCP and behind on
  // Unix sockets at 3,000-10,000 connections (0.81-0.96x epoll's messages per CPU
  // second; make bench-scale, docs/BENCHMARKS.md, 2026-12-07), so it is chosen by
  // name, e.g. for large writes where its zero-copy sends pay (make bench-zc).
  if (name == "auto") name = "epoll";
  Result<std::unique_ptr<Engine>> engine = name == "io_uring" ? make_uring_engine(*this, options)
                                           : (name == "select" || name == "poll" || name == "epoll" || name == "epoll-et")
                                               ? make_readiness_engine(*this, name, options)
                                               : Result<std::unique_ptr<Engine>>(fail(errc::invalid_argument));
  if (!engine) return fail(engine.error());
  engine_ = std::move(*engine);
  sends_at_once_ = engine_->sends_at_once();

  // The wake-up eventfd is an ordinary registered descriptor with a receive
  // operation, so every engine handles it without special cases.
  const int efd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (efd < 0) return fail(sys::last_error());
  wake_fd_.reset(efd);
  auto handle = watch(efd);
  if (!handle) return fail(handle.error());
  wake_handle_ = std::move(*handle);
  wake_handle_.receive([this](Result<std::span<const std::byte>>) {
    wake_pending_.store(false, std::memory_order_release);
    drain_posted();
  });
  return {};
}

LoopCore::~LoopCore() {
  // Tasks and timers not yet run may own objects holding IoHandles (a Connection
  // waiting to be released): destroy them while the engine can still unregister.
  {
    std::vector<Task> unrun;
    {
      std::lock_guard lock(posted_mutex_);
      unrun.swap(posted_);
    }
    std::vector<Task> deferred = std::move(deferred_);
  }
  timers_ = TimerQueue();
  // Handles owned by the core must go before the engine they are registered with.
  signal_handle_.reset();
  wake_handle_.reset();
  engine_.reset();
}

void LoopCore::assert_loop_thread() const {
  assert(in_loop_thread() && "sockit: loop-thread-only method called from another thread");
}

void LoopCore::assert_loop_thread_or_stopped() const {
  assert((in_loop_thread() || !running_.load(std::memory_order_acquire)) &&
         "sockit: loop-thread-only method called from another thread while the loop runs");
}

// --- running -------------------------------------------------------------------------

std::optional<std::chrono::nanoseconds> LoopCore::wait_budget(std::optional<std::chrono::nanoseconds> max_wait) {
  auto next_timer = timers_.time_to_next(TimerQueue::Clock::now());
  if (!next_timer) return max_wait;
  if (!max_wait) return next_timer;
  return std::min(*next_timer, *max_wait);
}

Status LoopCore::run_once(std::optional<std::chrono::nanoseconds> max_wait) {
  assert_loop_thread();
  // Nested turns (run_once from a callback) keep the outer turn's flag.
  const bool outermost = !running_.exchange(true, std::memory_order_acq_rel);
  counters_.add(&LoopStats::turns);
  run_deferred();  // deferred between two turns (outside any callback)
  Status result = engine_->wait(wait_budget(max_wait));
  if (result) counters_.add(&LoopStats::timers_fired, timers_.run_due(TimerQueue::Clock::now()));
  // What this turn's callbacks deferred (a connection's coalesced output) runs
  // before the turn returns, so a turn never ends with output held back: a caller
  // that stops the loop after a send still has it written (readiness backends) or
  // submitted with the next wait (io_uring).
  run_deferred();
  if (outermost) running_.store(false, std::memory_order_release);
  return result;
}

void LoopCore::defer(Task task) {
  assert_loop_thread();
  deferred_.push_back(std::move(task));
}

// Runs the tasks deferred so far; what they defer in turn waits for the next call
// (at the latest the start of the next turn), so a task that always defers again
// cannot hold a turn for ever.
void LoopCore::run_deferred() {
  if (deferred_.empty()) return;
  deferred_running_.swap(deferred_);
  for (Task& task : deferred_running_) task();
  deferred_running_.clear();
}

void LoopCore::run() {
  // A stop() that came before run() is honoured (the caller started a thread and
  // stopped it at once); the flag is cleared on the way out so run() can be called again.
  running_.store(true, std::memory_order_release);  // also between turns
  while (!stop_requested_.load(std::memory_order_acquire)) {
    if (auto s = run_once(std::nullopt); !s) break;  // a failing wait would fail again at once: don't spin
  }
  running_.store(false, std::memory_order_release);
  stop_requested_.store(false, std::memory_order_release);
}

void LoopCore::stop() {
  stop_requested_.store(true, std::memory_order_release);
  post([] {});  // wakes a loop that is blocked in its wait
}

void LoopCore::post(Task task) {
  {
    std::lock_guard lock(posted_mutex_);
    posted_.push_back(std::move(task));
  }
  // One eventfd write per batch of posts: later posters see the wake pending.
  if (!wake_pending_.exchange(true, std::memory_order_acq_rel)) {
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = ::write(wake_fd_.get(), &one, sizeof one);
  }
}

void LoopCore::drain_posted() {
  std::vector<Task> batch;
  {
    std::lock_guard lock(posted_mutex_);
    batch.swap(posted_);
  }
  for (Task& task : batch) {
    task();
    counters_.add(&LoopStats::tasks_run);
  }
}

// --- timers ----------------------------------------------------------------------------

std::uint64_t LoopCore::add_timer(std::chrono::nanoseconds delay, std::chrono::nanoseconds period, Task task) {
  assert_loop_thread();
  return timers_.add(TimerQueue::Clock::now() + delay, period, std::move(task));
}

void LoopCore::cancel_timer(std::uint64_t id) {
  assert_loop_thread_or_stopped();
  timers_.cancel(id);
}

bool LoopCore::timer_active(std::uint64_t id) const {
  assert_loop_thread_or_stopped();
  return timers_.active(id);
}

// --- signals -----------------------------------------------------------------------------

Result<int> LoopCore::add_signal(int signo, std::move_only_function<void(int)> handler) {
  assert_loop_thread();
  if (signo <= 0 || signo >= NSIG || signo == SIGKILL || signo == SIGSTOP) return fail(errc::invalid_argument);
  signal_handlers_[signo] = std::move(handler);
  sigset_t set;
  sigemptyset(&set);
  for (const auto& [s, fn] : signal_handlers_) sigaddset(&set, s);
  // Blocking is per thread: only the loop thread's mask changes (see the header).
  if (::pthread_sigmask(SIG_BLOCK, &set, nullptr) != 0) return fail(errc::invalid_argument);
  // signalfd(existing_fd, ...) replaces the mask in place, so the registration stays.
  const int fd = ::signalfd(signal_fd_.valid() ? signal_fd_.get() : -1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (fd < 0) return fail(sys::last_error());
  if (!signal_fd_.valid()) {
    signal_fd_.reset(fd);
    auto handle = watch(fd);
    if (!handle) return fail(handle.error());
    signal_handle_ = std::move(*handle);
    signal_handle_.receive([this](Result<std::span<const std::byte>> data) {
      if (data) on_signalfd_readable(*data);
    });
  }
  return signo;
}

void LoopCore::remove_signal(int signo) {
  assert_loop_thread_or_stopped();
  signal_handlers_.erase(signo);
}

void LoopCore::on_signalfd_readable(std::span<const std::byte> data) {
  for (std::size_t off = 0; off + sizeof(signalfd_siginfo) <= data.size(); off += sizeof(signalfd_siginfo)) {
    signalfd_siginfo info;
    std::memcpy(&info, data.data() + off, sizeof info);
    const int signo = static_cast<int>(info.ssi_signo);
    if (auto it = signal_handlers_.find(signo); it != signal_handlers_.end()) it->second(signo);
  }
}

// --- slots ---------------------------------------------------------------------------------

SlotRef LoopCore::allocate_slot(int fd) {
  std::uint32_t index;
  if (!free_slots_.empty()) {
    index = free_slots_.back();
    free_slots_.pop_back();
  } else {
    index = static_cast<std::uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  Slot& s = slots_[index];
  const std::uint32_t generation = s.generation;
  s = Slot{};
  s.fd = fd;
  s.generation = generation;
  s.in_use = true;
  struct stat st {};
  s.is_socket = ::fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
  counters_.add(&LoopStats::registered);
  return {index, generation};
}

Result<IoHandle> LoopCore::watch(int fd) {
  assert_loop_thread();
  if (fd < 0) return fail(errc::invalid_argument);
  const SlotRef ref = allocate_slot(fd);
  if (auto s = engine_->add(ref, slots_[ref.index]); !s) {
    free_slot(ref);
    return fail(s.error());
  }
  return IoHandle(this, ref.index, ref.generation, fd);
}

void LoopCore::free_slot(SlotRef ref) {
  assert_loop_thread_or_stopped();
  Slot* s = slot(ref);
  if (s == nullptr) return;
  engine_->remove(ref, *s);
  // Bumping the generation is what makes late completions harmless.
  const std::uint32_t next_generation = s->generation + 1;
  *s = Slot{};
  s->generation = next_generation;
  free_slots_.push_back(ref.index);
  counters_.sub(&LoopStats::registered);
}

void LoopCore::start_accept(SlotRef ref, AcceptFn fn) {
  assert_loop_thread();
  if (Slot* s = slot(ref)) {
    s->accept_fn = std::move(fn);
    engine_->update(ref, *s);
  }
}

void LoopCore::start_receive(SlotRef ref, ReceiveFn fn) {
  assert_loop_thread();
  if (Slot* s = slot(ref)) {
    s->receive_fn = fn ? std::make_unique<ReceiveFn>(std::move(fn)) : nullptr;
    engine_->update(ref, *s);
  }
}

void LoopCore::set_receive_paused(SlotRef ref, bool paused) {
  assert_loop_thread();
  if (Slot* s = slot(ref); s != nullptr && s->receive_paused != paused) {
    s->receive_paused = paused;
    engine_->update(ref, *s);
  }
}

void LoopCore::start_send(SlotRef ref, std::span<const std::span<const std::byte>> buffers, SendFn fn,
                          std::shared_ptr<const void> owner) {
  assert_loop_thread();
  Slot* s = slot(ref);
  if (s == nullptr) return;
  assert(!s->sending() && "sockit: one send at a time per IoHandle");
  s->send_iov.clear();
  for (const auto& b : buffers) {
    if (!b.empty()) s->send_iov.push_back({const_cast<std::byte*>(b.data()), b.size()});  // only read
  }
  s->send_fn = std::move(fn);
  s->send_owner = std::move(owner);
  engine_->update(ref, *s);
}

void LoopCore::start_connect(SlotRef ref, const Endpoint& endpoint, ConnectFn fn) {
  assert_loop_thread();
  if (Slot* s = slot(ref)) {
    s->connect_to = std::make_unique<Endpoint>(endpoint);
    s->connect_fn = std::move(fn);
    engine_->update(ref, *s);
  }
}

// --- completions -------------------------------------------------------------------------
// Multishot operations (accept, receive) keep their callback across completions;
// single-shot ones (send, connect) clear it before calling, so the callback may
// start the next one.

bool LoopCore::complete_accept(SlotRef ref, Result<Fd> result) {
  Slot* s = slot(ref);
  if (s == nullptr || !s->accept_fn) return s != nullptr;
  AcceptFn fn = std::move(s->accept_fn);
  fn(std::move(result));
  s = slot(ref);
  if (s == nullptr) return false;
  if (!s->accept_fn) s->accept_fn = std::move(fn);
  return true;
}

bool LoopCore::complete_receive(SlotRef ref, Result<std::span<const std::byte>> result) {
  Slot* s = slot(ref);
  if (s == nullptr || !s->receive_fn) return s != nullptr;
  const bool final = !result || result->empty();  // error or end of stream ends the receive
  std::unique_ptr<ReceiveFn> fn = std::move(s->receive_fn);
  (*fn)(std::move(result));
  s = slot(ref);
  if (s == nullptr) return false;
  if (final) {
    if (!s->receive_fn) engine_->update(ref, *s);  // nothing more to read
  } else if (!s->receive_fn) {
    s->receive_fn = std::move(fn);
  }
  return true;
}

bool LoopCore::complete_send(SlotRef ref, Result<std::size_t> result) {
  Slot* s = slot(ref);
  if (s == nullptr || !s->send_fn) return s != nullptr;
  SendFn fn = std::move(s->send_fn);
  s->send_iov.clear();
  s->send_owner.reset();
  engine_->update(ref, *s);
  fn(std::move(result));
  return slot(ref) != nullptr;
}

bool LoopCore::complete_connect(SlotRef ref, Status result) {
  Slot* s = slot(ref);
  if (s == nullptr || !s->connect_fn) return s != nullptr;
  ConnectFn fn = std::move(s->connect_fn);
  engine_->update(ref, *s);
  fn(std::move(result));
  return slot(ref) != nullptr;
}

}  // namespace sockit::event
