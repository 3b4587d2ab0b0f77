// epoll: the kernel keeps the interest set and each wait costs O(ready), which is
// why it is the default where io_uring is unavailable. Level-triggered by
// default; with `edge_triggered` every registration carries EPOLLET and the
// engine drains each descriptor to EAGAIN.
//
// The kernel always adds EPOLLERR|EPOLLHUP to a registration, even one with no
// events. Level-triggered, a hung-up socket that nobody is reading (receive
// paused, nothing sent) would then wake every wait, forever. Registering "no
// interest" as EPOLLET with no events makes that report fire at most once, and
// keeps one epoll_ctl per change instead of Redis's DEL-and-re-ADD.
#include <sys/epoll.h>

#include <algorithm>
#include <array>

#include "event/poller.hpp"
#include "sockit/fd.hpp"
#include "sys/error.hpp"

namespace sockit::event {
namespace {

class EpollPoller final : public Poller {
 public:
  EpollPoller(Fd epfd, bool edge) : epfd_(std::move(epfd)), edge_(edge) {}
  const char* name() const override { return edge_ ? "epoll-et" : "epoll"; }
  bool edge_triggered() const override { return edge_; }

  // ADD also validates the descriptor: epoll refuses regular files (EPERM).
  Status add(int fd, std::uint32_t interest, std::uint64_t token) override {
    return control(EPOLL_CTL_ADD, fd, interest, token);
  }
  Status modify(int fd, std::uint32_t interest, std::uint64_t token) override {
    return control(EPOLL_CTL_MOD, fd, interest, token);
  }
  // Can only fail for a descriptor that is not registered; nothing to do then.
  void remove(int fd) override { ::epoll_ctl(epfd_.get(), EPOLL_CTL_DEL, fd, nullptr); }

  Result<std::size_t> wait(std::optional<std::chrono::nanoseconds> timeout,
                           std::span<ReadyEvent> out) override {
    std::array<epoll_event, 256> events;
    const int max = static_cast<int>(std::min(out.size(), events.size()));
    if (max == 0) return std::size_t{0};
    // EINTR waits again for the time left (poller.hpp says why): epoll_wait is the
    // one the kernel interrupts without a signal, after an io_uring is closed.
    const int n = retry_interrupted_wait(timeout, [&](std::optional<std::chrono::nanoseconds> left) {
      return ::epoll_wait(epfd_.get(), events.data(), max, to_ms(left));
    });
    if (n < 0) return fail(sys::last_error());
    for (int i = 0; i < n; ++i) {
      const std::uint32_t e = events[i].events;
      std::uint32_t ready = 0;
      // A hang-up or error is readable (the read returns 0 or the error) and
      // writable (a waiting send gets EPIPE) — the engine finds out by trying.
      if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) ready |= kReadable;
      if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR)) ready |= kWritable;
      if (e & (EPOLLHUP | EPOLLERR)) ready |= kError;
      if (e & (EPOLLRDHUP | EPOLLHUP)) ready |= kHangup;
      out[static_cast<std::size_t>(i)] = {events[i].data.u64, ready};
    }
    return static_cast<std::size_t>(n);
  }

 private:
  // Rounded up to whole milliseconds: a 300 µs timer waits 1 ms, never 0 (a zero
  // wait would spin until the timer is due). epoll_pwait2 would give nanoseconds
  // but needs Linux 5.11; a millisecond late is within any timer's contract.
  static int to_ms(std::optional<std::chrono::nanoseconds> t) {
    if (!t) return -1;
    const auto ms = std::chrono::ceil<std::chrono::milliseconds>(*t).count();
    return static_cast<int>(std::clamp<long long>(ms, 0, 1 << 30));
  }

  Status control(int op, int fd, std::uint32_t interest, std::uint64_t token) {
    epoll_event ev{};
    ev.data.u64 = token;
    if (interest & kReadable) ev.events |= EPOLLIN | EPOLLRDHUP;
    if (interest & kWritable) ev.events |= EPOLLOUT;
    if (edge_ || interest == 0) ev.events |= EPOLLET;  // see the top of the file
    if (::epoll_ctl(epfd_.get(), op, fd, &ev) != 0) return fail(sys::last_error());
    return {};
  }

  Fd epfd_;
  bool edge_;
};

}  // namespace

Result<std::unique_ptr<Poller>> make_epoll_poller(bool edge_triggered) {
  const int fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (fd < 0) return fail(sys::last_error());
  return std::make_unique<EpollPoller>(Fd(fd), edge_triggered);
}

}  // namespace sockit::event
