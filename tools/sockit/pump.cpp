#include "pump.hpp"

#include <poll.h>

#include <cerrno>
#include <optional>
#include <vector>

#include "log.hpp"
#include "signals.hpp"
#include "stdio.hpp"

namespace sockit::cli {
namespace {

std::unexpected<PumpError> failure(std::string_view detail, std::error_code ec) {
  return std::unexpected(PumpError{detail, ec});
}

// One relay session. A class only to keep the loop's state out of its signature.
class Relay {
 public:
  Relay(Channel& channel, StdinState& stdin_state, const PumpOptions& options)
      : channel_(channel),
        stdin_(stdin_state),
        options_(options),
        from_peer_(channel.receive_buffer_size()),
        from_stdin_(channel.send_chunk_size()) {}

  std::expected<PumpEnd, PumpError> run() {
    for (;;) {
      if (auto s = close_our_direction_when_done(); !s) return failure("shutdown", s.error());
      if (finished()) return PumpEnd::finished;

      pollfd fds[3] = {};
      const Slots slots = fill_poll_set(fds);
      const int timeout = idle_ ? idle_->poll_timeout_ms() : -1;
      if (::poll(fds, static_cast<nfds_t>(slots.count), timeout) < 0) {
        if (errno == EINTR) continue;
        return failure("poll", std::error_code(errno, std::system_category()));
      }
      if (slots.signal >= 0 && fds[slots.signal].revents != 0) {
        take_signal(options_.signal_fd);
        return PumpEnd::stopped;
      }
      if (slots.in >= 0 && fds[slots.in].revents != 0) {
        if (auto end = on_stdin(fds[slots.in].revents)) return *end;
      }
      if (fds[slots.socket].revents != 0) {
        if (auto end = on_socket(fds[slots.socket].revents)) return *end;
      }
    }
  }

 private:
  // Where each descriptor sits in the poll set (-1: not polled this time).
  struct Slots {
    int in = -1;
    int socket = -1;
    int signal = -1;
    int count = 0;
  };

  Status close_our_direction_when_done() {
    if (stdin_.open || !to_peer_.empty() || send_done_) return {};
    send_done_ = true;
    if (channel_.is_datagram()) {
      idle_ = Deadline::after(options_.datagram_wait);
      return {};
    }
    note("stdin closed: shutting down our side");
    auto s = channel_.shutdown_write();
    // A peer that already left makes shutdown fail with ENOTCONN: nothing to report.
    if (!s && (is_peer_gone(s.error()) || s.error() == std::errc::not_connected)) return {};
    return s;
  }

  [[nodiscard]] bool finished() const {
    if (channel_.is_datagram()) return idle_ && idle_->expired();
    return send_done_ && recv_done_;
  }

  Slots fill_poll_set(pollfd* fds) const {
    Slots slots;
    if (stdin_.open && !send_done_ && !to_peer_.above_high_water()) {
      slots.in = slots.count;
      fds[slots.count++] = {kStdin, POLLIN, 0};
    }
    short events = 0;
    if (!recv_done_) events |= POLLIN;
    if (!to_peer_.empty() && !send_done_) events |= POLLOUT;
    slots.socket = slots.count;
    fds[slots.count++] = {channel_.fd(), events, 0};  // with no events: still told of HUP/ERR
    if (options_.signal_fd >= 0) {
      slots.signal = slots.count;
      fds[slots.count++] = {options_.signal_fd, POLLIN, 0};
    }
    return slots;
  }

  std::optional<std::expected<PumpEnd, PumpError>> on_stdin(short revents) {
    if (revents & POLLNVAL) {  // no stdin at all (closed by the parent): same as empty
      stdin_.open = false;
      return std::nullopt;
    }
    auto n = read_some(kStdin, from_stdin_);
    if (!n) {
      if (would_block(n.error())) return std::nullopt;
      return failure("read stdin", n.error());
    }
    if (*n == 0) {
      stdin_.open = false;
      return std::nullopt;
    }
    to_peer_.push(std::span(from_stdin_).first(*n));
    if (options_.counts != nullptr && channel_.is_datagram()) ++options_.counts->sent;
    return on_socket(POLLOUT);  // try at once: usually it all goes in one send
  }

  std::optional<std::expected<PumpEnd, PumpError>> on_socket(short revents) {
    if (!recv_done_ && (revents & (POLLIN | POLLHUP | POLLERR))) {
      if (auto end = receive(); end) return end;
    }
    if (!send_done_ && !to_peer_.empty() && (revents & (POLLOUT | POLLERR | POLLHUP))) {
      auto drained = channel_.flush(to_peer_);
      if (!drained) {
        if (!(recv_done_ && is_peer_gone(drained.error()))) return failure("send", drained.error());
        peer_gone();
      }
    }
    // After the peer's end of stream, HUP or ERR means it is gone both ways (reset, or
    // a Unix peer that closed): what we still hold for it can never be delivered.
    if (recv_done_ && !send_done_ && !channel_.is_datagram() && (revents & (POLLHUP | POLLERR))) {
      peer_gone();
    }
    return std::nullopt;
  }

  std::optional<std::expected<PumpEnd, PumpError>> receive() {
    auto n = channel_.recv(from_peer_);
    if (!n) {
      if (would_block(n.error())) return std::nullopt;
      return failure("receive", n.error());
    }
    if (*n == 0 && !channel_.is_datagram()) {
      note("peer closed its side");
      recv_done_ = true;
      return std::nullopt;
    }
    if (idle_) idle_ = Deadline::after(options_.datagram_wait);
    if (options_.counts != nullptr && channel_.is_datagram()) ++options_.counts->received;
    if (auto w = write_all(kStdout, std::span(from_peer_).first(*n)); !w) {
      if (w.error() == std::errc::broken_pipe) return PumpEnd::stdout_closed;
      return failure("write stdout", w.error());
    }
    return std::nullopt;
  }

  void peer_gone() {
    if (!to_peer_.empty() || stdin_.open) note("peer is gone: {} bytes not sent", to_peer_.bytes());
    send_done_ = true;
    to_peer_.clear();
  }

  Channel& channel_;
  StdinState& stdin_;
  const PumpOptions& options_;
  std::vector<std::byte> from_peer_;
  std::vector<std::byte> from_stdin_;
  OutQueue to_peer_;
  bool send_done_ = false;        // our direction is closed (or the peer can no longer take it)
  bool recv_done_ = false;        // the peer's end of stream has arrived
  std::optional<Deadline> idle_;  // datagram: when to stop waiting for replies
};

}  // namespace

bool is_peer_gone(const std::error_code& ec) noexcept {
  return ec == std::errc::broken_pipe || ec == std::errc::connection_reset;
}

std::expected<PumpEnd, PumpError> pump(Channel& channel, StdinState& stdin_state,
                                       const PumpOptions& options) {
  return Relay(channel, stdin_state, options).run();
}

}  // namespace sockit::cli
