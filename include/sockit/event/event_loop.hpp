// EventLoop: one thread's event loop over a kernel backend chosen at run time
// (select, poll, epoll, epoll-et, io_uring, or auto = the one measured fastest for
// sockit's server workloads, level-triggered epoll today: see LoopCore::init and
// docs/BENCHMARKS.md for the figures behind the choice).
//
// The loop speaks in operations, not readiness: a registered descriptor (IoHandle)
// is asked to accept, receive, send or connect, and the loop calls back when the
// operation completes. The readiness backends (select/poll/epoll) perform the
// syscall when the descriptor is ready; io_uring submits it to the kernel (multishot
// accept, multishot receive into a provided-buffer ring). Callers cannot tell the
// difference except in speed, and the conformance suite checks that they cannot.
//
// Threads: one loop per thread. Every method is "loop thread only" unless marked
// "any thread"; a debug build asserts it. The loop thread is the one that created
// the loop, until run() is first called from another thread (then that one).
// post() is the only way in from another thread.
//
// Ownership: the loop owns its backend, timers and wake-up descriptors. IoHandle,
// TimerHandle and SignalHandle are RAII registrations: destroying one cancels it,
// and no callback of a destroyed handle ever runs (io_uring completions that arrive
// later are recognised by a generation counter and dropped). Handles borrow the
// loop: destroy every handle (and every Connection) before the loop itself.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sockit/address.hpp"
#include "sockit/fd.hpp"
#include "sockit/result.hpp"

namespace sockit::event {

class LoopCore;  // internal
class IoHandle;

using Task = std::move_only_function<void()>;

struct LoopOptions {
  // "auto", "select", "poll", "epoll", "epoll-et" or "io_uring".
  std::string backend = "auto";
  // io_uring: submission queue entries.
  unsigned io_uring_entries = 512;
  // io_uring: completion queue entries (at least 4 x io_uring_entries). A multishot
  // receive posts a completion per chunk, so a turn can produce one per busy
  // connection; when they do not fit, the kernel parks them in a slower overflow
  // list and ends multishot requests, which then cost a re-arm each (measured at
  // 10,000 connections with a CQ of 2,048: 1.4 re-arms per echoed message). 65,536
  // entries are 1 MiB per loop.
  unsigned io_uring_cq_entries = 65536;
  // io_uring: the loop promises to run on one thread only, the first that waits
  // in it (the thread that creates it may be another). The ring is then set up
  // with SINGLE_ISSUER + DEFER_TASKRUN (Linux 6.1) and its descriptor registered:
  // the kernel runs completion work only when the loop enters it, in one batch,
  // and skips the locking several submitters need. Running the loop on another
  // thread afterwards fails (the wait returns an error). Other threads may still
  // release handles once the loop has stopped (a server closing its connections
  // after joining its workers); their cancellations then wait for the ring's
  // teardown. net::Server sets this for its worker loops.
  bool io_uring_single_thread = false;
  // Receive buffers: readiness backends read into one scratch buffer of this size;
  // io_uring registers `receive_buffer_count` of them as a provided-buffer ring.
  std::size_t receive_buffer_size = 64 * 1024;
  unsigned receive_buffer_count = 256;  // a power of two (io_uring requirement)
  // io_uring: sends of at least this many bytes whose caller lends the bytes to the
  // loop (IoHandle::send with an owner; net::Connection does) go out zero-copy
  // (IORING_OP_SEND_ZC): the kernel sends from the caller's pages instead of
  // copying them. 0 turns zero copy off. Below about 10-16 KiB the page pinning
  // and the second completion cost more than the copy saves.
  std::size_t send_zc_threshold = 16 * 1024;
  // Where the kernel reports it copied a zero-copy send anyway (loopback, a
  // namespace's veth, a device without scatter-gather), that handle sends plainly
  // from then on, since zero copy only adds cost there. false keeps trying
  // zero copy on every large send (to measure what it costs).
  bool send_zc_adaptive = true;
};

// What the backend could and could not do, for stats and diagnostics.
struct BackendInfo {
  std::string name;                    // the backend in use ("epoll" when auto fell back)
  std::vector<std::string> features;   // e.g. "multishot-accept", "provided-buffers"
  std::vector<std::string> fallbacks;  // "feature: reason" for each feature not used
  // Sends of at least this many bytes go out zero-copy when lent (IoHandle::send
  // with an owner); 0: this backend never sends zero-copy.
  std::size_t zero_copy_threshold = 0;
  // Descriptors numbered at or above this cannot be watched (select: FD_SETSIZE,
  // 1024; watch() fails with errc::select_fd_limit); 0: no limit.
  int descriptor_limit = 0;
};

struct LoopStats {
  std::uint64_t turns = 0;         // run_once iterations
  std::uint64_t syscalls_wait = 0; // epoll_wait / poll / select / io_uring_enter calls
  std::uint64_t timers_fired = 0;
  std::uint64_t tasks_run = 0;     // posted tasks executed
  std::uint64_t registered = 0;    // live IoHandles
  // io_uring zero-copy sends (LoopOptions::send_zc_threshold):
  std::uint64_t zc_sends = 0;     // sends made with IORING_OP_SEND_ZC / SENDMSG_ZC
  std::uint64_t zc_copied = 0;    // ... of which the kernel copied the bytes anyway
  std::uint64_t zc_refused = 0;   // sends whose socket refused zero copy (Unix sockets), sent plainly
  // Work per wake-up: completions (io_uring CQEs) or ready events (readiness
  // pollers) handled; divided by syscalls_wait it is the events per wait.
  std::uint64_t events = 0;
  // io_uring receive requests: armed (the first and every re-arm), and how many
  // ended because the provided-buffer ring was empty (ENOBUFS: a re-arm follows).
  std::uint64_t receives_armed = 0;
  std::uint64_t buffer_ring_empty = 0;
  // io_uring: waits that found completions held in the kernel's overflow list
  // because the CQ ring was full (see LoopOptions::io_uring_cq_entries).
  std::uint64_t cq_overflow = 0;
  // io_uring: hang-ups (peer close, reset, socket error) seen by the hang-up watch
  // beside a multishot receive, which then re-issued that receive so the close is
  // read (a kernel race can leave it unreported: see src/event/uring_engine.hpp).
  std::uint64_t hangup_rechecks = 0;

  // Sums another loop's counters into these (a server's workers).
  LoopStats& operator+=(const LoopStats& other);
};

class TimerHandle {
 public:
  TimerHandle() = default;
  TimerHandle(TimerHandle&&) noexcept;
  TimerHandle& operator=(TimerHandle&&) noexcept;
  ~TimerHandle();  // cancels
  void cancel();
  [[nodiscard]] bool active() const;

 private:
  friend class EventLoop;
  TimerHandle(LoopCore* core, std::uint64_t id) : core_(core), id_(id) {}
  LoopCore* core_ = nullptr;
  std::uint64_t id_ = 0;
};

class SignalHandle {
 public:
  SignalHandle() = default;
  SignalHandle(SignalHandle&&) noexcept;
  SignalHandle& operator=(SignalHandle&&) noexcept;
  ~SignalHandle();  // stops delivering; the signal stays blocked in the loop thread

 private:
  friend class EventLoop;
  SignalHandle(LoopCore* core, int signo) : core_(core), signo_(signo) {}
  LoopCore* core_ = nullptr;
  int signo_ = 0;
};

class EventLoop {
 public:
  [[nodiscard]] static Result<std::unique_ptr<EventLoop>> create(const LoopOptions& options = {});
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Backend names that can be created on this machine, in preference order
  // (io_uring only if a probe ring could be set up). Any thread.
  [[nodiscard]] static std::vector<std::string> available_backends();

  [[nodiscard]] const BackendInfo& backend() const;
  // Counters kept by the loop thread; any thread may read them (each value is
  // exact, the set is not one instant: read while the loop runs, they may be a turn apart).
  [[nodiscard]] LoopStats stats() const;

  // Runs until stop(). Loop thread.
  void run();
  // One turn: waits up to `max_wait` (or until a timer is due) for events, then
  // dispatches completions, expired timers and posted tasks. Loop thread.
  Status run_once(std::chrono::milliseconds max_wait);
  // Makes run() return after the current turn. Any thread.
  void stop();
  // Runs `task` on the loop thread, in posting order. Any thread.
  void post(Task task);
  // Runs `task` at the end of the current turn, after this turn's callbacks, in
  // deferring order (outside a turn: at the start of the next). For work that
  // should happen once per turn however many callbacks ask for it: a Connection
  // writes the messages its callbacks sent with one syscall this way. Loop thread.
  void defer(Task task);
  [[nodiscard]] bool in_loop_thread() const;

  // Timers: O(log n) arm and expiry (a heap); cancelling is O(1) (lazy removal),
  // so thousands of idle timeouts cost nothing per turn until they are due.
  [[nodiscard]] TimerHandle run_after(std::chrono::nanoseconds delay, Task task);
  [[nodiscard]] TimerHandle run_every(std::chrono::nanoseconds period,
                                      std::move_only_function<void()> task);

  // Delivers `signo` on the loop through a signalfd. The signal is blocked in the
  // calling (loop) thread; signals are per-process, so other threads must block it
  // too (create them after this call, or block it yourself) or they may take it.
  // The library never installs a handler or changes the disposition.
  [[nodiscard]] Result<SignalHandle> on_signal(int signo, std::move_only_function<void(int)> handler);

  // Registers a descriptor (borrowed: the caller keeps owning it and must keep it
  // open until the IoHandle is destroyed). The descriptor must be non-blocking.
  [[nodiscard]] Result<IoHandle> watch(int fd);

 private:
  explicit EventLoop(std::unique_ptr<LoopCore> core);
  std::unique_ptr<LoopCore> core_;
};

}  // namespace sockit::event
