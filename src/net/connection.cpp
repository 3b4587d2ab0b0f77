#include "sockit/net/connection.hpp"

#include <sys/socket.h>

#include <array>

#include "sys/syscalls.hpp"

namespace sockit::net {
namespace {

// Buffers that grew for a burst are given back once empty, so an idle connection
// holds no buffer memory; small ones are kept to avoid malloc churn.
constexpr std::size_t kKeepBufferBytes = 1024;

void release_if_idle(Buffer& b) {
  if (b.empty() && b.capacity() > kKeepBufferBytes) b.shrink_to_fit();
}

}  // namespace

Result<std::shared_ptr<Connection>> Connection::create(event::EventLoop& loop, Fd fd, ConnectionOptions options) {
  if (auto s = sys::set_non_blocking(fd.get(), true); !s) return fail(s.error());
  if (options.low_water_mark > options.high_water_mark) options.low_water_mark = options.high_water_mark;
  std::shared_ptr<Connection> c(new Connection(loop, std::move(fd), options));
  auto io = loop.watch(c->fd_.get());
  if (!io) return fail(io.error());
  c->io_ = std::move(*io);
  return c;
}

Connection::Connection(event::EventLoop& loop, Fd fd, ConnectionOptions options)
    : loop_(loop), fd_(std::move(fd)), options_(options) {
  stats_.connected_at = std::chrono::steady_clock::now();
}

Connection::~Connection() {
  // Unregister before the descriptor closes (members die in reverse order, but be explicit).
  io_.reset();
}

void Connection::start() {
  // The IoHandle belongs to this object and cancels its callbacks when destroyed,
  // so a raw `this` cannot dangle; shared_from_this() inside keeps us alive while
  // a callback runs even if the owner drops its reference.
  io_.receive([this](Result<std::span<const std::byte>> chunk) { handle_receive(std::move(chunk)); });
}

// --- input ---------------------------------------------------------------------------

void Connection::handle_receive(Result<std::span<const std::byte>> chunk) {
  auto self = shared_from_this();
  if (!chunk) return finish(chunk.error());
  if (chunk->empty()) {
    peer_closed_ = true;
    if (state_ == State::closing) {
      if (queued_output() == 0) finish({});
      return;
    }
    if (on_peer_closed_) {
      on_peer_closed_(*this);
    } else {
      close();
    }
    return;
  }
  stats_.bytes_in += chunk->size();
  add_to_totals(&TrafficTotals::bytes_in, chunk->size());
  if (state_ != State::open) return;  // closing: only waiting for the peer's FIN

  // Decode straight from the arriving chunk when nothing is buffered (the common
  // case: no copy); only an incomplete tail is kept.
  std::size_t consumed = 0;
  if (input_.empty()) {
    if (!deliver_frames(*chunk, consumed)) return;
    if (consumed < chunk->size()) input_.append(chunk->subspan(consumed));
  } else {
    input_.append(*chunk);
    if (!deliver_frames(input_.readable(), consumed)) return;
    input_.consume(consumed);
  }
  release_if_idle(input_);
}

bool Connection::deliver_frames(std::span<const std::byte> input, std::size_t& consumed) {
  while (state_ == State::open) {
    auto frame = decode(options_.framing, input.subspan(consumed));
    if (!frame) {
      finish(frame.error());  // protocol error: this connection only
      return false;
    }
    const auto& complete = *frame;  // empty: the rest of a frame has not arrived yet
    if (!complete) return true;
    consumed += complete->consumed;
    ++stats_.messages_in;
    add_to_totals(&TrafficTotals::messages_in, 1);
    if (on_message_) on_message_(*this, complete->payload);
  }
  return state_ != State::closed;
}

// --- output --------------------------------------------------------------------------

Status Connection::send(std::span<const std::byte> message) {
  if (state_ != State::open || write_shutdown_requested_) return fail(std::make_error_code(std::errc::not_connected));
  if (queued_output() + message.size() + 4 > options_.max_output_bytes) return fail(errc::limit_reached);
  if (auto s = encode(options_.framing, message, pending_); !s) return s;
  ++stats_.messages_out;
  add_to_totals(&TrafficTotals::messages_out, 1);
  flush();
  update_backpressure();
  return {};
}

void Connection::flush() {
  if (send_in_flight_ || state_ == State::closed) return;
  if (sending_.empty()) std::swap(sending_, pending_);
  if (sending_.empty()) return after_output_drained();
  send_in_flight_ = true;
  const std::array<std::span<const std::byte>, 1> spans{sending_.readable()};
  io_.send(spans, [this](Result<std::size_t> sent) { handle_sent(std::move(sent)); });
}

void Connection::handle_sent(Result<std::size_t> sent) {
  auto self = shared_from_this();
  send_in_flight_ = false;
  if (!sent) return finish(sent.error());
  stats_.bytes_out += *sent;
  add_to_totals(&TrafficTotals::bytes_out, *sent);
  sending_.consume(*sent);
  release_if_idle(sending_);
  flush();
  update_backpressure();
}

void Connection::update_backpressure() {
  if (state_ == State::closed) return;
  const std::size_t queued = queued_output();
  if (!above_high_water_ && queued > options_.high_water_mark) {
    above_high_water_ = true;
    if (state_ == State::open) io_.pause_receive();
    if (on_backpressure_) on_backpressure_(*this, true);
  } else if (above_high_water_ && queued <= options_.low_water_mark) {
    above_high_water_ = false;
    io_.resume_receive();
    if (on_backpressure_) on_backpressure_(*this, false);
  }
}

void Connection::after_output_drained() {
  release_if_idle(pending_);
  const bool want_fin = write_shutdown_requested_ || state_ == State::closing;
  if (want_fin && !write_shut_) {
    (void)sys::shutdown(fd_.get(), SHUT_WR);  // a failure here means the peer is gone: close will say so
    write_shut_ = true;
  }
  if (state_ != State::closing) return;
  if (peer_closed_) return finish({});
  // Wait a bounded time for the peer's FIN, so its last bytes are not met with RST.
  linger_timer_ = loop_.run_after(options_.close_linger, [this] { finish({}); });
}

// --- closing ---------------------------------------------------------------------------

void Connection::shutdown_write() {
  if (state_ != State::open || write_shutdown_requested_) return;
  write_shutdown_requested_ = true;
  flush();
}

void Connection::close() {
  if (state_ != State::open) return;
  state_ = State::closing;
  // Keep reading (and discarding) so the peer's FIN is seen even if backpressure paused us.
  io_.resume_receive();
  flush();
}

void Connection::abort() {
  if (state_ == State::closed) return;
  const linger hard_reset{1, 0};  // l_onoff=1, l_linger=0: close() sends RST
  (void)sys::set_option(fd_.get(), SOL_SOCKET, SO_LINGER, hard_reset);
  finish(std::make_error_code(std::errc::connection_aborted));
}

void Connection::finish(std::error_code reason) {
  if (state_ == State::closed) return;
  auto self = shared_from_this();
  state_ = State::closed;
  linger_timer_.cancel();
  io_.reset();
  fd_.reset();
  input_ = Buffer();
  sending_ = Buffer();
  pending_ = Buffer();
  if (auto fn = std::move(on_close_)) fn(*this, reason);
  on_message_ = nullptr;
  on_backpressure_ = nullptr;
  on_peer_closed_ = nullptr;
}

}  // namespace sockit::net
