#include "pump.hpp"

#include <poll.h>

#include <cerrno>
#include <vector>

#include "signals.hpp"
#include "stdio.hpp"

namespace sockit::cli {

PumpResult pump(Channel channel, StdinState& stdin_state, const PumpOptions& options) {
  Session session(std::move(channel), stdin_state, options.session);
  std::vector<std::byte> from_stdin(session.channel().send_chunk_size());
  for (;;) {
    if (auto end = session.advance()) return *end;

    // Where each descriptor sits in the poll set (-1: not polled this time).
    pollfd fds[3] = {};
    int count = 0;
    int in = -1;
    int signal = -1;
    if (session.takes_input() && !session.above_high_water()) {
      in = count;
      fds[count++] = {kStdin, POLLIN, 0};
    }
    const int socket = count;
    fds[count++] = {session.fd(), session.poll_events(), 0};
    if (options.signal_fd >= 0) {
      signal = count;
      fds[count++] = {options.signal_fd, POLLIN, 0};
    }
    if (::poll(fds, static_cast<nfds_t>(count), session.deadline().poll_timeout_ms()) < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(PumpError{"poll", std::error_code(errno, std::system_category())});
    }
    if (signal >= 0 && fds[signal].revents != 0) {
      take_signal(options.signal_fd);
      return PumpEnd::stopped;
    }
    if (in >= 0 && fds[in].revents != 0) {
      auto n = read_input(stdin_state, fds[in].revents, from_stdin);
      if (!n) return std::unexpected(PumpError{"read stdin", n.error()});
      if (auto end = session.push(std::span(from_stdin).first(*n))) return *end;
    }
    if (fds[socket].revents != 0) {
      if (auto end = session.on_socket(fds[socket].revents)) return *end;
    }
  }
}

}  // namespace sockit::cli
