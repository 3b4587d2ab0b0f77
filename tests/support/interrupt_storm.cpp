#include "support/interrupt_storm.hpp"

#include <pthread.h>

#include <chrono>

namespace sockit::test {
namespace {

std::atomic<int> g_interrupts{0};
void count_interrupt(int) { g_interrupts.fetch_add(1, std::memory_order_relaxed); }

}  // namespace

InterruptStorm::InterruptStorm() {
  struct sigaction sa {};
  sa.sa_handler = count_interrupt;
  sa.sa_flags = 0;  // no SA_RESTART: the interrupted syscall fails with EINTR
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGUSR2, &sa, &old_);
  sigset_t usr2;
  sigemptyset(&usr2);
  sigaddset(&usr2, SIGUSR2);
  ::pthread_sigmask(SIG_UNBLOCK, &usr2, &old_mask_);
  sender_ = std::thread([this, target = ::pthread_self()] {
    while (!stop_.load(std::memory_order_acquire)) {
      ::pthread_kill(target, SIGUSR2);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
}

InterruptStorm::~InterruptStorm() {
  stop_.store(true, std::memory_order_release);
  sender_.join();
  ::sigaction(SIGUSR2, &old_, nullptr);
  ::pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
}

int InterruptStorm::delivered() { return g_interrupts.load(std::memory_order_relaxed); }

}  // namespace sockit::test
