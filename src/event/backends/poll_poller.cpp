// poll(2): a pollfd array the kernel scans on every wait — O(n) in the number of
// descriptors, but no FD_SETSIZE limit. A map from descriptor to array index
// makes add/modify O(1), and remove swaps the last entry into the hole, so the
// array never has gaps to scan.
//
// A descriptor with no interest stays in the array with a negated fd, which poll
// skips entirely: with events = 0 the kernel would still report POLLHUP/POLLERR,
// and a hung-up socket nobody is reading would wake every wait, forever.
#include <poll.h>

#include <algorithm>
#include <unordered_map>
#include <vector>

#include "event/poller.hpp"
#include "sys/error.hpp"

namespace sockit::event {
namespace {

class PollPoller final : public Poller {
 public:
  const char* name() const override { return "poll"; }

  Status add(int fd, std::uint32_t interest, std::uint64_t token) override {
    if (fd < 0) return fail(std::make_error_code(std::errc::bad_file_descriptor));
    if (index_.contains(fd)) return fail(std::make_error_code(std::errc::file_exists));
    index_.emplace(fd, fds_.size());
    fds_.push_back({});
    entries_.push_back({fd, token});
    set(fds_.size() - 1, interest);
    return {};
  }

  Status modify(int fd, std::uint32_t interest, std::uint64_t token) override {
    auto it = index_.find(fd);
    if (it == index_.end()) return fail(std::make_error_code(std::errc::no_such_file_or_directory));
    entries_[it->second].token = token;
    set(it->second, interest);
    return {};
  }

  void remove(int fd) override {
    auto it = index_.find(fd);
    if (it == index_.end()) return;
    const std::size_t i = it->second;
    index_.erase(it);
    if (i + 1 != fds_.size()) {
      fds_[i] = fds_.back();
      entries_[i] = entries_.back();
      index_[entries_[i].fd] = i;
    }
    fds_.pop_back();
    entries_.pop_back();
  }

  Result<std::size_t> wait(std::optional<std::chrono::nanoseconds> timeout,
                           std::span<ReadyEvent> out) override {
    // EINTR waits again for the time left (poller.hpp says why).
    const int n = retry_interrupted_wait(timeout, [&](std::optional<std::chrono::nanoseconds> left) {
      return ::poll(fds_.data(), fds_.size(), to_ms(left));
    });
    if (n < 0) return fail(sys::last_error());
    // More ready descriptors than room in `out` (rare): start each scan where the
    // last one stopped so the front of the array cannot starve the rest.
    std::size_t count = 0;
    std::size_t left = static_cast<std::size_t>(n);
    const std::size_t size = fds_.size();
    std::size_t i = 0;
    for (; i < size && left > 0 && count < out.size(); ++i) {
      const std::size_t k = (scan_from_ + i) % size;
      const short r = fds_[k].revents;
      if (r == 0) continue;
      --left;
      std::uint32_t ready = 0;
      // A hang-up or error is readable (the read returns 0 or the error) and
      // writable (a waiting send gets EPIPE) — the engine finds out by trying.
      if (r & (POLLIN | POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) ready |= kReadable;
      if (r & (POLLOUT | POLLHUP | POLLERR | POLLNVAL)) ready |= kWritable;
      if (r & (POLLHUP | POLLERR | POLLNVAL)) ready |= kError;
      if (r & (POLLRDHUP | POLLHUP)) ready |= kHangup;
      out[count++] = {entries_[k].token, ready};
    }
    if (size > 0) scan_from_ = (scan_from_ + i) % size;
    return count;
  }

 private:
  struct Entry {
    int fd = -1;  // the real descriptor: fds_[i].fd is negated while interest is 0
    std::uint64_t token = 0;
  };

  void set(std::size_t i, std::uint32_t interest) {
    short events = 0;
    if (interest & kReadable) events |= POLLIN | POLLRDHUP;
    if (interest & kWritable) events |= POLLOUT;
    // -1 - fd rather than -fd so that descriptor 0 is skipped too.
    fds_[i] = {events != 0 ? entries_[i].fd : -1 - entries_[i].fd, events, 0};
  }

  // Rounded up to whole milliseconds: a 300 µs timer waits 1 ms, never 0 (a zero
  // wait would spin until the timer is due).
  static int to_ms(std::optional<std::chrono::nanoseconds> t) {
    if (!t) return -1;
    const auto ms = std::chrono::ceil<std::chrono::milliseconds>(*t).count();
    return static_cast<int>(std::clamp<long long>(ms, 0, 1 << 30));
  }

  std::vector<pollfd> fds_;
  std::vector<Entry> entries_;  // parallel to fds_
  std::unordered_map<int, std::size_t> index_;
  std::size_t scan_from_ = 0;
};

}  // namespace

Result<std::unique_ptr<Poller>> make_poll_poller() { return std::make_unique<PollPoller>(); }

}  // namespace sockit::event
