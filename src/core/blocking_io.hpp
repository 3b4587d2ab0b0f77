// The one loop behind every blocking call with a deadline (internal).
//
// `attempt(flags)` performs one syscall. With no deadline on a blocking socket it
// runs once with flags 0 and lets the kernel block: one syscall, the fast path.
// Otherwise it runs with MSG_DONTWAIT and, on EAGAIN, waits in poll(2) for
// `events` until the deadline, then tries again.
//
// EAGAIN with no deadline means one of two things: the socket is non-blocking
// (then `wait_when_non_blocking` decides: "all" calls wait, "some" calls report
// EAGAIN), or SO_RCVTIMEO/SO_SNDTIMEO expired (reported as errc::timed_out).
#pragma once

#include <poll.h>
#include <sys/socket.h>

#include "sockit/deadline.hpp"
#include "sockit/result.hpp"
#include "sys/error.hpp"
#include "sys/syscalls.hpp"

namespace sockit::detail {

enum class OnWouldBlock { wait, report };

template <typename Attempt>
auto retry_until(int fd, short events, Deadline deadline, OnWouldBlock on_would_block, Attempt attempt)
    -> decltype(attempt(0)) {
  if (deadline.is_never()) {
    auto r = attempt(0);
    if (r || !sys::is_would_block(r.error())) return r;
    auto nb = sys::is_non_blocking(fd);
    if (!nb) return fail(nb.error());
    if (!*nb) return fail(errc::timed_out);  // SO_RCVTIMEO / SO_SNDTIMEO
    if (on_would_block == OnWouldBlock::report) return r;
    if (auto w = sys::wait_for(fd, events, deadline); !w) return fail(w.error());
  }
  for (;;) {
    auto r = attempt(MSG_DONTWAIT);
    if (r || !sys::is_would_block(r.error())) return r;
    if (auto w = sys::wait_for(fd, events, deadline); !w) return fail(w.error());
  }
}

}  // namespace sockit::detail
