// Child processes for tests: fork, run a function, _exit with its result.
// The child never returns into GoogleTest; the parent always reaps it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>

namespace sockit::test {

class Child {
 public:
  // Forks; the child runs `body` and _exits with its return value (or 99 if it throws).
  explicit Child(const std::function<int()>& body);
  ~Child();  // kills (SIGKILL) and reaps a child still running
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  [[nodiscard]] pid_t pid() const { return pid_; }
  // Waits up to `timeout` for the child to exit. Returns its exit status, the
  // negated signal number if a signal killed it, or -1000 on timeout (then it is killed).
  int wait(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  void kill(int signal);

 private:
  pid_t pid_ = -1;
};

}  // namespace sockit::test
