// Reading stdin and writing stdout as raw descriptors (no stdio buffering: the
// relay must pass bytes on as soon as they arrive, and a datagram is one read).
//
// Errors come back as values. EPIPE on stdout is an ordinary error here; main()
// ignores SIGPIPE so that a closed stdout (`sockit connect ... | head -1`) is seen
// as EPIPE instead of killing the process.
#pragma once

#include <cstddef>
#include <span>

#include "sockit/result.hpp"

namespace sockit::cli {

inline constexpr int kStdin = 0;
inline constexpr int kStdout = 1;

// One read(2); 0 means end of input. EINTR is retried.
[[nodiscard]] Result<std::size_t> read_some(int fd, std::span<std::byte> buffer);
// Writes everything, waiting in poll(2) if the descriptor happens to be non-blocking
// (a parent may have left a shared pipe that way).
[[nodiscard]] Status write_all(int fd, std::span<const std::byte> data);

}  // namespace sockit::cli
