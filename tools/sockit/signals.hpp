// SIGINT/SIGTERM as a readable descriptor (signalfd), for the poll loops of
// `listen` and `echo`.
//
// The signals are blocked first, so they are only ever seen through the fd: the
// loop notices one between two iterations, returns normally, and destructors run
// (the Listener removes its Unix socket file). A handler that exits could not do that.
#pragma once

#include <chrono>
#include <functional>

#include "sockit/fd.hpp"
#include "sockit/result.hpp"

namespace sockit::cli {

// Blocks SIGINT and SIGTERM in this (single-threaded) process and returns a
// signalfd that becomes readable when one is pending.
[[nodiscard]] Result<Fd> open_stop_signals();

// Consumes one pending signal from the signalfd; returns its number (0 if none).
int take_signal(int signal_fd);

// Waits up to `timeout` for a stop signal on `signal_fd`: its number, or 0 when the
// time is up first (`sockit inspect --watch` between two refreshes). EINTR waits
// again for the time that is left.
[[nodiscard]] Result<int> wait_for_signal(int signal_fd, std::chrono::milliseconds timeout);

// What ended wait_for_stop_signal: a stop signal (its number), or `extra_fd`
// became readable (signal 0).
struct StopWait {
  int signal = 0;
  bool extra_ready = false;
};

// The main thread of a server command: waits for a stop signal on `signal_fd`,
// calling `on_tick` every `interval` (zero: never) and returning early when
// `extra_fd` (-1: none) becomes readable, which wins over a signal pending at the
// same time. Ticks are scheduled from a fixed start, so a slow stderr or EINTR
// cannot make them drift; a tick missed entirely (a suspended process) is skipped,
// not replayed. Fails only if poll(2) does.
[[nodiscard]] Result<StopWait> wait_for_stop_signal(int signal_fd, std::chrono::milliseconds interval,
                                                    const std::function<void()>& on_tick, int extra_fd = -1);

}  // namespace sockit::cli
