// SIGINT/SIGTERM as a readable descriptor (signalfd), for the poll loops of
// `listen` and `echo`.
//
// The signals are blocked first, so they are only ever seen through the fd: the
// loop notices one between two iterations, returns normally, and destructors run
// (the Listener removes its Unix socket file). A handler that exits could not do that.
#pragma once

#include "sockit/fd.hpp"
#include "sockit/result.hpp"

namespace sockit::cli {

// Blocks SIGINT and SIGTERM in this (single-threaded) process and returns a
// signalfd that becomes readable when one is pending.
[[nodiscard]] Result<Fd> open_stop_signals();

// Consumes one pending signal from the signalfd; returns its number (0 if none).
int take_signal(int signal_fd);

}  // namespace sockit::cli
