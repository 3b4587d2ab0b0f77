// Binding an address that a server killed a moment ago may still hold (internal;
// used by listen() and DatagramSocket::bind()).
//
// After SIGKILL the kernel closes a process's sockets as it tears the process
// down, but not always at once: an io_uring instance is torn down asynchronously,
// and its pending (multishot) accept or receive keeps the socket bound for tens of
// milliseconds after the process is gone. A supervisor that restarts at once
// (systemd with a short RestartSec, runit, a shell loop) then meets EADDRINUSE.
// Retrying for a bounded time rides that out; a live server keeps its address,
// and the caller gets EADDRINUSE when the time is up.
#pragma once

#include <chrono>

#include "sockit/address.hpp"
#include "sockit/result.hpp"

namespace sockit::detail {

// bind(2), retried every few milliseconds while it fails with EADDRINUSE, until
// `retry_for` has passed (zero: one attempt).
Status bind_retrying_in_use(int fd, const Endpoint& endpoint, std::chrono::milliseconds retry_for);

}  // namespace sockit::detail
