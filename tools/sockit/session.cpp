#include "session.hpp"

#include <poll.h>

#include <algorithm>

#include "log.hpp"
#include "stdio.hpp"

namespace sockit::cli {
namespace {

std::unexpected<PumpError> failure(std::string_view detail, std::error_code ec) {
  return std::unexpected(PumpError{detail, ec});
}

}  // namespace

Session::Session(Channel channel, StdinState& input, const SessionOptions& options, std::string label)
    : channel_(std::move(channel)),
      input_(input),
      options_(options),
      label_(std::move(label)),
      hex_(options.hex, label_),
      from_peer_(channel_.receive_buffer_size()) {
  touch();
}

Step Session::advance() {
  if (auto s = close_our_direction_when_done(); !s) return failure("shutdown", s.error());
  if (finished()) return PumpEnd::finished;
  if (idle_ && idle_->expired()) return PumpEnd::idle_timeout;
  if (quit_ && quit_->expired()) return PumpEnd::quit_after;
  return std::nullopt;
}

Status Session::close_our_direction_when_done() {
  if (input_.open || !to_peer_.empty() || send_done_) return {};
  send_done_ = true;
  if (options_.quit_after) quit_ = Deadline::after(*options_.quit_after);
  if (channel_.is_datagram()) {
    datagram_wait_ = Deadline::after(options_.datagram_wait);
    return {};
  }
  note("{}stdin closed: shutting down our side", prefix());
  auto s = channel_.shutdown_write();
  // A peer that already left makes shutdown fail with ENOTCONN: nothing to report.
  if (!s && (is_peer_gone(s.error()) || s.error() == std::errc::not_connected)) return {};
  return s;
}

bool Session::finished() const {
  if (channel_.is_datagram()) return datagram_wait_ && datagram_wait_->expired();
  return send_done_ && recv_done_;
}

short Session::poll_events() const noexcept {
  short events = 0;
  if (!recv_done_) events |= POLLIN;
  if (!to_peer_.empty() && !send_done_) events |= POLLOUT;
  return events;  // with no events: still told of HUP/ERR
}

Deadline Session::deadline() const noexcept {
  const auto or_never = [](const std::optional<Deadline>& d) { return d.value_or(Deadline::never()); };
  return earliest(earliest(or_never(datagram_wait_), or_never(idle_)), or_never(quit_));
}

Step Session::push(std::span<const std::byte> chunk) {
  if (chunk.empty()) return std::nullopt;
  hex_.sent(chunk);
  touch();
  to_peer_.push(chunk);
  if (options_.counts != nullptr && channel_.is_datagram()) ++options_.counts->sent;
  return on_socket(POLLOUT);
}

Step Session::on_socket(short revents) {
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

Step Session::receive() {
  auto n = channel_.recv(from_peer_);
  if (!n) {
    if (would_block(n.error())) return std::nullopt;
    return failure("receive", n.error());
  }
  if (*n == 0 && !channel_.is_datagram()) {
    note("{}peer closed its side", prefix());
    recv_done_ = true;
    return std::nullopt;
  }
  const auto data = std::span(from_peer_).first(*n);
  hex_.received(data);
  touch();
  if (options_.counts != nullptr && channel_.is_datagram()) ++options_.counts->received;
  if (datagram_wait_) datagram_wait_ = Deadline::after(options_.datagram_wait);
  if (auto w = write_all(kStdout, data); !w) {
    if (w.error() == std::errc::broken_pipe) return PumpEnd::stdout_closed;
    return failure("write stdout", w.error());
  }
  return std::nullopt;
}

void Session::peer_gone() {
  if (!to_peer_.empty() || input_.open) note("{}peer is gone: {} bytes not sent", prefix(), to_peer_.bytes());
  send_done_ = true;
  to_peer_.clear();
}

Deadline earliest(Deadline a, Deadline b) noexcept {
  if (a.is_never()) return b;
  if (b.is_never()) return a;
  return *a.when() <= *b.when() ? a : b;
}

Result<std::size_t> read_input(StdinState& state, short revents, std::span<std::byte> buffer) {
  if (revents & POLLNVAL) {  // no stdin at all (closed by the parent): same as empty
    state.open = false;
    return 0;
  }
  auto n = read_some(kStdin, buffer);
  if (!n) {
    if (would_block(n.error())) return 0;
    return fail(n.error());
  }
  if (*n == 0) state.open = false;
  return *n;
}

bool is_peer_gone(const std::error_code& ec) noexcept {
  return ec == std::errc::broken_pipe || ec == std::errc::connection_reset;
}

}  // namespace sockit::cli
