#include "exec_session.hpp"

#include <fmt/core.h>
#include <poll.h>

#include <array>
#include <cerrno>
#include <cstdio>

#include "errors.hpp"
#include "log.hpp"
#include "signals.hpp"

namespace sockit::cli {
namespace {

std::string address_or(const Result<Address>& address, std::string_view otherwise) {
  return address ? address->to_string() : std::string(otherwise);
}

}  // namespace

Result<ExecSession> ExecSession::start(Channel channel, const std::string& command,
                                       std::optional<std::chrono::milliseconds> quit_after) {
  // The child shares the open file: it must see a blocking socket. Our own
  // calls try once (MSG_DONTWAIT) whatever the mode.
  if (auto s = channel.set_non_blocking(false); !s) return fail(s.error());
  const std::string peer = address_or(channel.peer_address(), "unknown");
  const std::string local = address_or(channel.local_address(), "unknown");
  auto child = ExecChild::spawn(command, channel.fd(), peer, local);
  if (!child) return fail(child.error());
  note("started --exec command (pid {}) for {}", child->pid(), peer);
  return ExecSession(std::move(channel), std::move(*child), quit_after);
}

short ExecSession::poll_events() const noexcept { return POLLIN; }

Step ExecSession::advance() const {
  if (!child_.running() && peer_done_) return PumpEnd::finished;
  if (quit_ && quit_->expired()) return PumpEnd::quit_after;
  return std::nullopt;
}

Step ExecSession::on_ready(short revents) {
  if (child_.running()) return child_exited();
  if (revents != 0) return drain();
  return std::nullopt;
}

Step ExecSession::child_exited() {
  if (!child_.try_reap()) return std::nullopt;  // a spurious wake-up
  note("--exec command (pid {}) ended: {}", child_.pid(), describe_wait_status(*child_.status()));
  if (quit_after_) quit_ = Deadline::after(*quit_after_);
  if (channel_.is_datagram()) {  // no end of stream to wait for
    peer_done_ = true;
    return std::nullopt;
  }
  auto s = channel_.shutdown_write();
  if (!s && !is_peer_gone(s.error()) && s.error() != std::errc::not_connected) {
    return std::unexpected(PumpError{"shutdown", s.error()});
  }
  return std::nullopt;
}

Step ExecSession::drain() {
  std::array<std::byte, 16 * 1024> discard;
  auto n = channel_.recv(discard);
  if (!n) {
    if (would_block(n.error())) return std::nullopt;
    if (!is_peer_gone(n.error())) return std::unexpected(PumpError{"receive", n.error()});
  }
  // A reset after the child's work is done means the peer has gone, as a close does.
  if (!n || *n == 0) {
    peer_done_ = true;
    if (dropped_ > 0) note("dropped {} bytes the peer sent after the --exec command ended", dropped_);
    return std::nullopt;
  }
  dropped_ += *n;
  return std::nullopt;
}

int run_exec_once(Channel channel, const std::string& command,
                  std::optional<std::chrono::milliseconds> quit_after, int signal_fd,
                  std::string_view operation, std::string_view address_text) {
  auto session = ExecSession::start(std::move(channel), command, quit_after);
  if (!session) {
    print_error(operation, address_text, "--exec", session.error());
    return kExitFailure;
  }
  for (;;) {
    if (auto end = session->advance()) {
      if (!*end) {
        print_error(operation, address_text, end->error().detail, end->error().ec);
        return kExitFailure;
      }
      if (**end == PumpEnd::quit_after) note("--quit-after: the peer has not closed; stopping");
      const int status = *session->child().status();
      if (status == 0) return kExitOk;
      fmt::print(stderr, "sockit: {} {}: --exec command ended with {}\n", operation, address_text,
                 describe_wait_status(status));
      std::fflush(stderr);
      return kExitFailure;
    }
    pollfd fds[2] = {{session->fd(), session->poll_events(), 0}, {signal_fd, POLLIN, 0}};
    if (::poll(fds, 2, session->deadline().poll_timeout_ms()) < 0) {
      if (errno == EINTR) continue;
      print_error(operation, address_text, "poll", std::error_code(errno, std::system_category()));
      return kExitFailure;
    }
    if (fds[1].revents != 0) {
      take_signal(signal_fd);
      ExecChild* children[] = {&session->child()};
      terminate_children(children, kChildGrace);
      note("stopped by a signal: the --exec command is ended");
      return kExitOk;
    }
    if (fds[0].revents != 0) {
      if (auto end = session->on_ready(fds[0].revents); end && !*end) {
        print_error(operation, address_text, end->error().detail, end->error().ec);
        return kExitFailure;
      }
    }
  }
}

}  // namespace sockit::cli
