#include "core/bind_retry.hpp"

#include <system_error>
#include <thread>

#include "sockit/deadline.hpp"
#include "sys/syscalls.hpp"

namespace sockit::detail {

Status bind_retrying_in_use(int fd, const Endpoint& endpoint, std::chrono::milliseconds retry_for) {
  // Short next to the tens of milliseconds a dying ring holds a socket, long
  // enough not to spin: at most a few hundred binds over a whole retry window.
  constexpr std::chrono::milliseconds kPause{5};
  const Deadline deadline = Deadline::after(retry_for);
  for (;;) {
    auto bound = sys::bind(fd, endpoint);
    if (bound || bound.error() != std::errc::address_in_use || deadline.expired()) return bound;
    std::this_thread::sleep_for(kPause);
  }
}

}  // namespace sockit::detail
