// Poller: the readiness interface under the readiness engine (internal). One
// .cpp per kernel interface (backends/select_poller.cpp, poll_poller.cpp,
// epoll_poller.cpp), each small: Redis's ae_*.c are the model.
//
// Interest is a set of kReadable/kWritable; `token` is an opaque 64-bit value
// (a packed SlotRef) handed back with each ready event.
//
// EINTR, one rule for every poller: wait() ends when a descriptor is ready or
// the timeout has passed, never because it was interrupted; an interrupted wait
// waits again for the time left (retry_interrupted_wait below).
//
// Why not return early with no events, as Redis's ae does? That would be safe,
// since LoopCore::run_once recomputes its budget every turn, but it gains the loop
// nothing: the budget already ends at the next timer, post() and stop() write the
// loop's eventfd, and watched signals arrive on a signalfd, so no work becomes
// due during a wait without ending it. And the kernel interrupts the pollers
// unequally: closing an io_uring interrupts the thread's next epoll_wait with no
// signal at all (task work), while poll and select are restarted by the kernel
// unless a handler ran; returning early would make an idle run_once(50ms) return
// at once on epoll but not on poll. The cost of waiting on: a signal handler that
// only sets a flag does not end the wait; watch that signal with
// EventLoop::on_signal instead.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "sockit/result.hpp"
#include "sys/error.hpp"

namespace sockit::event {

inline constexpr std::uint32_t kReadable = 1;
inline constexpr std::uint32_t kWritable = 2;
inline constexpr std::uint32_t kError = 4;   // in ready events only (EPOLLERR/HUP, POLLERR/HUP/NVAL)
inline constexpr std::uint32_t kHangup = 8;  // in ready events only: the peer shut down writing (EPOLLRDHUP/HUP)

struct ReadyEvent {
  std::uint64_t token = 0;
  std::uint32_t events = 0;
};

class Poller {
 public:
  virtual ~Poller() = default;
  [[nodiscard]] virtual const char* name() const = 0;
  // Edge-triggered pollers report a descriptor once per change: the engine must
  // then drain to EAGAIN.
  [[nodiscard]] virtual bool edge_triggered() const { return false; }
  // Descriptors at or above this cannot be watched (select: FD_SETSIZE); 0: no limit.
  [[nodiscard]] virtual int descriptor_limit() const { return 0; }
  [[nodiscard]] virtual Status add(int fd, std::uint32_t interest, std::uint64_t token) = 0;
  [[nodiscard]] virtual Status modify(int fd, std::uint32_t interest, std::uint64_t token) = 0;
  virtual void remove(int fd) = 0;
  // Waits up to `timeout` (nullopt: forever) and fills `out`; returns the count.
  // Returns early only for a ready descriptor: EINTR waits again (see the top).
  [[nodiscard]] virtual Result<std::size_t> wait(std::optional<std::chrono::nanoseconds> timeout,
                                                 std::span<ReadyEvent> out) = 0;
};

// The EINTR rule of Poller::wait for a poller's one syscall: calls
// `wait_once(time_left)` (nullopt: forever), which returns what the syscall
// returned, until it does not fail with EINTR. Once an interrupted wait finds its
// time used up it returns 0 (nothing ready), as the syscall would have. Any other
// failure is returned as -1 with errno intact. The clock is read only for a
// finite, non-zero timeout.
template <typename WaitOnce>
int retry_interrupted_wait(std::optional<std::chrono::nanoseconds> timeout, WaitOnce wait_once) {
  using Clock = std::chrono::steady_clock;
  const bool timed = timeout && *timeout > std::chrono::nanoseconds::zero();
  const Clock::time_point start = timed ? Clock::now() : Clock::time_point{};
  std::optional<std::chrono::nanoseconds> left = timeout;
  for (;;) {
    const int n = wait_once(left);
    if (n >= 0 || sys::last_error() != std::errc::interrupted) return n;
    if (!left) continue;  // forever is still forever
    if (!timed) return 0;
    // timeout - elapsed rather than start + timeout: a huge timeout cannot overflow.
    left = std::max(std::chrono::nanoseconds::zero(), *timeout - (Clock::now() - start));
    if (*left == std::chrono::nanoseconds::zero()) return 0;
  }
}

Result<std::unique_ptr<Poller>> make_select_poller();
Result<std::unique_ptr<Poller>> make_poll_poller();
Result<std::unique_ptr<Poller>> make_epoll_poller(bool edge_triggered);

}  // namespace sockit::event
