#include "sockit/deadline.hpp"

#include <climits>

namespace sockit {

int Deadline::poll_timeout_ms() const noexcept {
  if (!when_) return -1;
  const auto left = *when_ - Clock::now();
  if (left <= Clock::duration::zero()) return 0;
  // Round up: waking a little late is harmless, waking early spins.
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
}

}  // namespace sockit
