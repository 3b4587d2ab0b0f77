// --bind-retry SECONDS: how long a server command keeps retrying a bind that
// finds its TCP/UDP port or abstract name in use (ListenOptions::bind_retry_for,
// DatagramBindOptions::bind_retry_for). On by default in echo and relay, so that a
// supervisor's immediate restart after `kill -9` serves although the killed
// process's socket outlives it for tens of milliseconds (an io_uring ring is torn
// down asynchronously). A live server is never displaced: after the time the
// command fails with "address already in use", as without the option.
#pragma once

#include <CLI/CLI.hpp>
#include <chrono>

namespace sockit::cli {

inline constexpr double kDefaultBindRetrySeconds = 2.0;

// Registers --bind-retry on `command`; parsing writes seconds into `seconds`.
void add_bind_retry_option(CLI::App& command, double& seconds);

std::chrono::milliseconds bind_retry_duration(double seconds);

}  // namespace sockit::cli
