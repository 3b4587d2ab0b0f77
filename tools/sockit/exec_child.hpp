// ExecChild: the process `--exec CMD` runs for one connection (like `ncat -e` or
// socat's EXEC:): /bin/sh -c CMD with the connected socket itself as its stdin
// and stdout (stderr stays ours), and the addresses in its environment:
//   SOCKIT_PEER   the peer's address (tcp://127.0.0.1:40522, unix: for an unnamed peer)
//   SOCKIT_LOCAL  our end's address
//
// The child gets the socket, not a pipe to us: it reads the peer's bytes
// directly and its writes go straight out, so nothing is copied twice and the
// command sees end of stream when the peer half-closes. The cost is that sockit
// cannot see the traffic (so --hex and --idle-timeout do not combine with --exec).
//
// The child starts with the signal mask and SIGPIPE disposition a shell would
// give it (sockit blocks SIGINT/SIGTERM for its signalfd and ignores SIGPIPE; a
// child must not inherit either). Its exit is seen through a pidfd, so a poll
// loop can wait for many children and for sockets at once.
//
// The child leads its own process group and signals go to the group, so a
// command's own children (`sh -c 'a | b'`) end with it. (Being outside the
// terminal's foreground group, it does not get the terminal's ^C directly:
// sockit forwards SIGTERM itself.)
//
// Ownership: ExecChild owns the pidfd and the duty to reap: a child still running
// when its ExecChild is destroyed is killed (SIGKILL) and reaped, so no path
// leaves a zombie or an orphan behind. One thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <utility>

#include "sockit/fd.hpp"
#include "sockit/result.hpp"

namespace sockit::cli {

class ExecChild {
 public:
  // Starts `command` with `socket_fd` (borrowed; the caller keeps its own copy) as
  // stdin and stdout. The socket must be in blocking mode: O_NONBLOCK belongs to
  // the open file, which the child shares, and most commands cannot handle EAGAIN.
  [[nodiscard]] static Result<ExecChild> spawn(const std::string& command, int socket_fd,
                                               const std::string& peer, const std::string& local);

  ExecChild(ExecChild&& other) noexcept
      : pid_(std::exchange(other.pid_, -1)), pidfd_(std::move(other.pidfd_)), status_(other.status_) {}
  ExecChild& operator=(ExecChild&&) noexcept = delete;
  ~ExecChild();

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  // Readable once the child has exited (poll for POLLIN).
  [[nodiscard]] int pidfd() const noexcept { return pidfd_.get(); }
  [[nodiscard]] bool running() const noexcept { return !status_; }
  // Reaps the child if it has exited; its wait status from then on.
  std::optional<int> try_reap();
  [[nodiscard]] std::optional<int> status() const noexcept { return status_; }
  void signal(int sig) const;
  // SIGKILL and a blocking reap (for a child that would not stop by itself).
  void kill_and_reap();

 private:
  ExecChild(pid_t pid, Fd pidfd) : pid_(pid), pidfd_(std::move(pidfd)) {}

  pid_t pid_ = -1;
  Fd pidfd_;
  std::optional<int> status_;  // wait status, once reaped
};

// "exit status 0", "killed by SIGTERM": a wait status as a person reads it.
[[nodiscard]] std::string describe_wait_status(int status);

// Ends every running child: SIGTERM, up to `grace` for them to exit, then SIGKILL.
// All of them are reaped when it returns.
void terminate_children(std::span<ExecChild* const> children, std::chrono::milliseconds grace);

}  // namespace sockit::cli
