#include "signals.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>

namespace sockit::cli {

Result<Fd> open_stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  if (::sigprocmask(SIG_BLOCK, &set, nullptr) != 0)
    return fail(std::error_code(errno, std::system_category()));
  const int fd = ::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (fd < 0) return fail(std::error_code(errno, std::system_category()));
  return Fd(fd);
}

int take_signal(int signal_fd) {
  signalfd_siginfo info{};
  for (;;) {
    const ssize_t n = ::read(signal_fd, &info, sizeof info);
    if (n == static_cast<ssize_t>(sizeof info)) return static_cast<int>(info.ssi_signo);
    if (n < 0 && errno == EINTR) continue;
    return 0;
  }
}

Result<int> wait_for_signal(int signal_fd, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return 0;
    pollfd fd{signal_fd, POLLIN, 0};
    const int ready = ::poll(&fd, 1, static_cast<int>(std::min<long long>(left.count(), INT_MAX)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return fail(std::error_code(errno, std::system_category()));
    if (ready > 0) {
      if (const int signal = take_signal(signal_fd); signal != 0) return signal;
    }
  }
}

Result<StopWait> wait_for_stop_signal(int signal_fd, std::chrono::milliseconds interval,
                                      const std::function<void()>& on_tick, int extra_fd) {
  using Clock = std::chrono::steady_clock;
  const bool periodic = interval.count() > 0;
  auto next_tick = Clock::now() + interval;
  for (;;) {
    int timeout_ms = -1;
    if (periodic) {
      const auto now = Clock::now();
      if (now >= next_tick) {
        on_tick();
        while (next_tick <= now) next_tick += interval;
      }
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(next_tick - now).count();
      timeout_ms = static_cast<int>(std::min<long long>(left, INT_MAX));
    }
    pollfd fds[2] = {{signal_fd, POLLIN, 0}, {extra_fd, POLLIN, 0}};  // poll ignores fd -1
    const int ready = ::poll(fds, 2, timeout_ms);
    if (ready < 0) {
      if (errno == EINTR) continue;
      return fail(std::error_code(errno, std::system_category()));
    }
    if (fds[1].revents != 0) return StopWait{0, true};
    if (fds[0].revents != 0) {
      if (const int signal = take_signal(signal_fd); signal != 0) return StopWait{signal, false};
    }
  }
}

}  // namespace sockit::cli
