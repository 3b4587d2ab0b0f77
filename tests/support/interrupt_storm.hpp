// InterruptStorm: signals aimed at one thread, to prove a wait is not cut short by
// EINTR. While it lives, another thread sends SIGUSR2 to the thread that made it
// every millisecond, through a handler installed without SA_RESTART: each one that
// lands in a wait makes the syscall fail with EINTR. delivered() counts the
// handler's runs (process-wide), so a test can tell that signals really arrived.
#pragma once

#include <signal.h>

#include <atomic>
#include <thread>

namespace sockit::test {

class InterruptStorm {
 public:
  InterruptStorm();
  ~InterruptStorm();
  InterruptStorm(const InterruptStorm&) = delete;
  InterruptStorm& operator=(const InterruptStorm&) = delete;

  static int delivered();

 private:
  struct sigaction old_ {};
  sigset_t old_mask_{};
  std::atomic<bool> stop_{false};
  std::thread sender_;
};

}  // namespace sockit::test
