// ExecSession: sockit's side of a connection that a `--exec` child serves.
//
// While the child runs, sockit only waits for it to exit (its pidfd): the child
// reads and writes the socket itself (exec_child.hpp). When it exits, our
// direction of the socket is shut down, so the peer sees end of stream even if it
// still sends, and what the peer still sends is read and dropped until it closes.
// Closing at once instead would, with unread bytes in the socket, make the kernel
// answer with a reset, which can destroy the child's last reply before the peer
// has read it. `quit_after` (--quit-after) bounds that wait; without it sockit
// waits for the peer as `connect` waits after the end of stdin.
//
// Ownership: owns the Channel (our copy of the socket) and the ExecChild. One thread.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "channel.hpp"
#include "exec_child.hpp"
#include "session.hpp"

namespace sockit::cli {

// SIGINT/SIGTERM give children this long after our SIGTERM before SIGKILL.
inline constexpr std::chrono::milliseconds kChildGrace{2000};

class ExecSession {
 public:
  [[nodiscard]] static Result<ExecSession> start(Channel channel, const std::string& command,
                                                 std::optional<std::chrono::milliseconds> quit_after);

  // What to poll (for POLLIN): the pidfd while the child runs, then the socket.
  [[nodiscard]] int fd() const noexcept { return child_.running() ? child_.pidfd() : channel_.fd(); }
  [[nodiscard]] short poll_events() const noexcept;
  [[nodiscard]] Deadline deadline() const noexcept { return quit_.value_or(Deadline::never()); }
  [[nodiscard]] Step advance() const;
  [[nodiscard]] Step on_ready(short revents);

  [[nodiscard]] ExecChild& child() noexcept { return child_; }
  [[nodiscard]] const ExecChild& child() const noexcept { return child_; }

 private:
  ExecSession(Channel channel, ExecChild child, std::optional<std::chrono::milliseconds> quit_after)
      : channel_(std::move(channel)), child_(std::move(child)), quit_after_(quit_after) {}
  [[nodiscard]] Step child_exited();
  [[nodiscard]] Step drain();

  Channel channel_;
  ExecChild child_;
  std::optional<std::chrono::milliseconds> quit_after_;
  std::optional<Deadline> quit_;  // set when the child exits
  bool peer_done_ = false;
  std::uint64_t dropped_ = 0;  // bytes the peer sent after the child exited
};

// `connect --exec` and `listen --exec` without --keep: runs one ExecSession until
// it ends or a signal on `signal_fd` stops it, and returns the exit status: 0 when
// the command exited 0, 1 with a line on stderr otherwise or on an error.
[[nodiscard]] int run_exec_once(Channel channel, const std::string& command,
                                std::optional<std::chrono::milliseconds> quit_after, int signal_fd,
                                std::string_view operation, std::string_view address_text);

}  // namespace sockit::cli
