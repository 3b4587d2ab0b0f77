// Deadline: an absolute point in time (steady clock) by which a blocking call must finish.
//
// Deadlines, not timeouts, are passed down through loops: a send_all that makes
// ten partial sends and is interrupted twice still returns by the one deadline.
// Deadline::never() means block as long as it takes.
//
// Thread safety: a value type.
#pragma once

#include <chrono>
#include <optional>

namespace sockit {

class Deadline {
 public:
  using Clock = std::chrono::steady_clock;

  constexpr Deadline() noexcept = default;  // never
  static constexpr Deadline never() noexcept { return Deadline(); }
  static Deadline at(Clock::time_point when) noexcept { return Deadline(when); }
  template <typename Rep, typename Period>
  static Deadline after(std::chrono::duration<Rep, Period> d) noexcept {
    return Deadline(Clock::now() + std::chrono::duration_cast<Clock::duration>(d));
  }
  // Implicit from a duration so `recv_exact(buf, 2s)` reads naturally.
  template <typename Rep, typename Period>
  Deadline(std::chrono::duration<Rep, Period> d) noexcept  // NOLINT(google-explicit-constructor)
      : Deadline(after(d)) {}

  [[nodiscard]] bool is_never() const noexcept { return !when_.has_value(); }
  [[nodiscard]] bool expired() const noexcept { return when_ && Clock::now() >= *when_; }
  [[nodiscard]] std::optional<Clock::time_point> when() const noexcept { return when_; }

  // Milliseconds left, rounded up, for poll(2): -1 for never, 0 once expired.
  [[nodiscard]] int poll_timeout_ms() const noexcept;

 private:
  explicit Deadline(Clock::time_point when) noexcept : when_(when) {}
  std::optional<Clock::time_point> when_;
};

}  // namespace sockit
