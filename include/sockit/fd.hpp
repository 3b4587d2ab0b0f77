// Fd: the one owner of a file descriptor.
//
// Move-only; the destructor closes. Only Fd closes descriptors in libsockit:
// every other type that holds a descriptor holds an Fd. Code that merely
// borrows a descriptor takes an `int` and says so.
//
// Thread safety: like any value, one thread at a time per object.
#pragma once

#include <utility>

namespace sockit {

class Fd {
 public:
  Fd() noexcept = default;
  // Takes ownership of `fd` (which may be -1 for "none").
  explicit Fd(int fd) noexcept : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) reset(std::exchange(other.fd_, -1));
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }

  [[nodiscard]] int get() const noexcept { return fd_; }
  [[nodiscard]] bool valid() const noexcept { return fd_ >= 0; }
  explicit operator bool() const noexcept { return valid(); }

  // Gives up ownership without closing.
  [[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }
  // Closes the current descriptor (if any) and owns `fd` instead.
  // close() errors are ignored on purpose: on Linux the descriptor is gone
  // either way, and retrying on EINTR could close someone else's fd.
  void reset(int fd = -1) noexcept;

 private:
  int fd_ = -1;
};

}  // namespace sockit
