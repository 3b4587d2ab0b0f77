// select(2): the portable fallback, never the default. Two master bitmaps are
// kept up to date by add/modify/remove and copied for each call, as Redis's
// ae_select.c does; the kernel and the scan afterwards are O(highest fd).
//
// A descriptor at or above FD_SETSIZE (1024) is refused with
// errc::select_fd_limit: FD_SET on it would write past the end of the bitmap.
// The limit is checked in add() and modify(), so no other path can reach FD_SET
// with a large descriptor.
//
// Errors and hang-ups have no set of their own: select reports such a descriptor
// readable and writable, and the engine's next read or write surfaces the error.
// exceptfds is deliberately unused: on TCP it means urgent data, which nobody
// reads with MSG_OOB here, so watching it would report the same byte forever.
#include <sys/select.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "event/poller.hpp"
#include "sys/error.hpp"

namespace sockit::event {
namespace {

class SelectPoller final : public Poller {
 public:
  SelectPoller() {
    FD_ZERO(&readable_);
    FD_ZERO(&writable_);
  }
  const char* name() const override { return "select"; }
  int descriptor_limit() const override { return FD_SETSIZE; }

  Status add(int fd, std::uint32_t interest, std::uint64_t token) override {
    return modify(fd, interest, token);
  }

  Status modify(int fd, std::uint32_t interest, std::uint64_t token) override {
    if (fd < 0) return fail(std::make_error_code(std::errc::bad_file_descriptor));
    if (fd >= FD_SETSIZE) return fail(errc::select_fd_limit);
    tokens_[static_cast<std::size_t>(fd)] = token;
    set(fd, &readable_, (interest & kReadable) != 0);
    set(fd, &writable_, (interest & kWritable) != 0);
    if (interest != 0) {
      max_fd_ = std::max(max_fd_, fd);
    } else if (fd == max_fd_) {
      shrink_max_fd();
    }
    return {};
  }

  void remove(int fd) override {
    if (fd < 0 || fd >= FD_SETSIZE) return;
    (void)modify(fd, 0, 0);
  }

  Result<std::size_t> wait(std::optional<std::chrono::nanoseconds> timeout,
                           std::span<ReadyEvent> out) override {
    fd_set rd;
    fd_set wr;
    // EINTR waits again for the time left (poller.hpp says why). The sets are
    // copied afresh for each call: select overwrites them.
    const int n = retry_interrupted_wait(timeout, [&](std::optional<std::chrono::nanoseconds> left) {
      std::memcpy(&rd, &readable_, sizeof rd);
      std::memcpy(&wr, &writable_, sizeof wr);
      timeval tv{};
      timeval* tvp = nullptr;
      if (left) {
        // Microsecond resolution, rounded up: a due-soon timer never becomes a zero
        // wait (which would spin until it is due).
        const auto us = std::max<long long>(std::chrono::ceil<std::chrono::microseconds>(*left).count(), 0);
        tv.tv_sec = static_cast<time_t>(us / 1'000'000);
        tv.tv_usec = static_cast<suseconds_t>(us % 1'000'000);
        tvp = &tv;
      }
      return ::select(max_fd_ + 1, &rd, &wr, nullptr, tvp);
    });
    if (n < 0) return fail(sys::last_error());
    // More ready descriptors than room in `out` (rare): start each scan where the
    // last one stopped so low-numbered descriptors cannot starve the others.
    std::size_t count = 0;
    int bits_left = n;  // select counts a descriptor once per set it is in
    const int span = max_fd_ + 1;
    int i = 0;
    for (; i < span && bits_left > 0 && count < out.size(); ++i) {
      const int fd = (scan_from_ + i) % span;
      const bool r = FD_ISSET(fd, &rd);
      const bool w = FD_ISSET(fd, &wr);
      if (!r && !w) continue;
      bits_left -= int{r} + int{w};
      out[count++] = {tokens_[static_cast<std::size_t>(fd)], (r ? kReadable : 0) | (w ? kWritable : 0)};
    }
    if (span > 0) scan_from_ = (scan_from_ + i) % span;
    return count;
  }

 private:
  static void set(int fd, fd_set* s, bool on) {
    if (on) {
      FD_SET(fd, s);
    } else {
      FD_CLR(fd, s);
    }
  }

  void shrink_max_fd() {
    while (max_fd_ >= 0 && !FD_ISSET(max_fd_, &readable_) && !FD_ISSET(max_fd_, &writable_)) --max_fd_;
  }

  fd_set readable_;
  fd_set writable_;
  int max_fd_ = -1;  // highest descriptor with any interest
  int scan_from_ = 0;
  std::array<std::uint64_t, FD_SETSIZE> tokens_{};  // by descriptor
};

}  // namespace

Result<std::unique_ptr<Poller>> make_select_poller() { return std::make_unique<SelectPoller>(); }

}  // namespace sockit::event
