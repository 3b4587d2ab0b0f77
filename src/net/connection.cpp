#include "sockit/net/connection.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <array>
#include <cstring>
#include <memory>
#include <utility>

#include "sys/error.hpp"
#include "sys/syscalls.hpp"

namespace sockit::net {
namespace {

// Buffers that grew for a burst are given back once empty, so an idle connection
// holds no buffer memory; small ones are kept to avoid malloc churn.
constexpr std::size_t kKeepBufferBytes = 1024;

void release_if_idle(Buffer& b) {
  if (b.empty() && b.capacity() > kKeepBufferBytes) b.shrink_to_fit();
}

// Record mode. Records up to this size are read into one scratch buffer per
// thread, not per connection; a larger one gets a buffer of its own size for the
// time of its delivery. A record's span only lives during on_message, and nothing
// reads a socket from inside a callback, so sharing the scratch is safe.
constexpr std::size_t kRecordScratchBytes = 64 * 1024;
// Reads per readable report (fairness between connections; the loop reports the
// rest again) and records per sendmmsg call.
constexpr int kRecordsPerWakeup = 16;
constexpr unsigned kRecordsPerSend = 64;
// The output queue's bookkeeping: a host-order length before each record.
using RecordLength = std::uint32_t;
constexpr std::size_t kRecordHeaderBytes = sizeof(RecordLength);

std::span<std::byte> record_scratch() {
  thread_local std::unique_ptr<std::byte[]> scratch;
  if (!scratch) scratch = std::make_unique_for_overwrite<std::byte[]>(kRecordScratchBytes);
  return {scratch.get(), kRecordScratchBytes};
}

// One recvmsg on a seqpacket socket. MSG_TRUNC makes the result the record's real
// length even when `into` is shorter (or empty, to learn the size with MSG_PEEK).
Result<std::size_t> receive_record_into(int fd, std::span<std::byte> into, int flags) {
  iovec iov{into.data(), into.size()};
  msghdr message{};
  message.msg_iov = &iov;
  message.msg_iovlen = 1;
  return sys::recvmsg(fd, message, flags | MSG_DONTWAIT | MSG_TRUNC);
}

}  // namespace

Result<std::shared_ptr<Connection>> Connection::create(event::EventLoop& loop, Fd fd, ConnectionOptions options) {
  if (auto s = sys::set_non_blocking(fd.get(), true); !s) return fail(s.error());
  if (options.low_water_mark > options.high_water_mark) options.low_water_mark = options.high_water_mark;
  // Asked of the socket, not the caller: one getsockopt per connection, and a
  // seqpacket socket can never be driven as a byte stream by mistake.
  auto type = sys::get_option<int>(fd.get(), SOL_SOCKET, SO_TYPE);
  if (!type) return fail(type.error());
  std::shared_ptr<Connection> c(new Connection(loop, std::move(fd), options));
  c->unit_ = *type == SOCK_SEQPACKET ? Unit::records : Unit::bytes;
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
  if (unit_ == Unit::records) return wait_for_records();
  io_.receive([this](Result<std::span<const std::byte>> chunk) { handle_receive(std::move(chunk)); });
}

// --- input ---------------------------------------------------------------------------

void Connection::handle_receive(Result<std::span<const std::byte>> chunk) {
  auto self = shared_from_this();
  if (!chunk) return finish(chunk.error());
  if (chunk->empty()) return handle_end_of_stream();
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

void Connection::handle_end_of_stream() {
  read_side_ = ReadSide::peer_closed;
  if (state_ == State::closing) {
    if (queued_output() == 0) finish({});
    return;
  }
  if (on_peer_closed_) {
    on_peer_closed_(*this);
  } else {
    close();
  }
}

bool Connection::deliver_frames(std::span<const std::byte> input, std::size_t& consumed) {
  if (options_.framing.kind == Framing::Kind::raw) {
    // Every chunk is one message: nothing to decode (the decoder's call and its
    // Result<optional<Frame>> cost about 40 instructions a message).
    if (state_ == State::open && consumed < input.size()) {
      const auto message = input.subspan(consumed);
      consumed = input.size();
      ++stats_.messages_in;
      add_to_totals(&TrafficTotals::messages_in, 1);
      if (on_message_) on_message_(*this, message);
    }
    return state_ != State::closed;
  }
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
  if (state_ != State::open || write_side_ != WriteSide::open) {
    return fail(std::make_error_code(std::errc::not_connected));
  }
  if (unit_ == Unit::records) return send_record(message);
  if (queued_output() + message.size() + 4 > options_.max_output_bytes) return fail(errc::limit_reached);
  if (options_.framing.kind == Framing::Kind::raw && !message.empty() && queued_output() == 0 && !send_in_flight_) {
    return send_raw_now(message);
  }
  if (auto s = encode(options_.framing, message, pending_); !s) return s;
  ++stats_.messages_out;
  add_to_totals(&TrafficTotals::messages_out, 1);
  flush_at_turn_end();
  update_backpressure();
  return {};
}

// Coalescing: the messages sent during one loop turn (by this turn's callbacks, or
// between two turns) leave together when the turn ends (EventLoop::defer), in one
// write, not one syscall each: a pipelined framed echo replies to 16 requests with
// one send(2), and a sender of small messages makes its syscalls per turn, not per
// message. The delay is bounded by the turn: the bytes are written before run_once
// returns. (The raw fast path, send_raw_now, still writes at once: it is the echo's
// reply to one read, which is already one write.)
void Connection::flush_at_turn_end() {
  if (flush_scheduled_) return;
  flush_scheduled_ = true;
  loop_.defer([self = shared_from_this()] {
    self->flush_scheduled_ = false;
    if (self->state_ == State::closed) return;
    self->write_through();
    self->flush();
    self->update_backpressure();
  });
}

// The echo's common case: raw bytes and nothing queued ahead, so they go from the
// caller's span straight to the kernel where the backend writes at once (the
// readiness backends); only what it does not take is copied into the queue
// (write_through() without the copy in and out of pending_).
Status Connection::send_raw_now(std::span<const std::byte> message) {
  ++stats_.messages_out;
  add_to_totals(&TrafficTotals::messages_out, 1);
  std::size_t sent = 0;
  if (auto n = io_.send_now(message)) {
    sent = *n;
    stats_.bytes_out += sent;
    add_to_totals(&TrafficTotals::bytes_out, sent);
  }
  if (sent < message.size()) {
    pending_.append(message.subspan(sent));
    flush();
  }
  update_backpressure();
  return {};
}

// With nothing queued ahead, the bytes go to the kernel now (IoHandle::send_now:
// the readiness backends write at once, io_uring takes nothing and batches), as
// the engine would do when the send operation started, without the operation's
// trip through the loop (a callback, a deferred completion, a second buffer). What
// the kernel does not take stays queued for flush(): on EAGAIN it waits for
// writability; on an error the loop's send meets it again and reports it, so
// send() itself never closes the connection under its caller.
void Connection::write_through() {
  if (send_in_flight_ || !sending_.empty() || pending_.empty()) return;
  const auto bytes = pending_.readable();
  auto sent = io_.send_now(bytes);
  if (!sent || *sent == 0) return;
  stats_.bytes_out += *sent;
  add_to_totals(&TrafficTotals::bytes_out, *sent);
  pending_.consume(*sent);
}

void Connection::flush() {
  if (unit_ == Unit::records) return flush_records(/*in_callback=*/false);
  if (send_in_flight_ || state_ == State::closed) return;
  if (sending_.empty()) std::swap(sending_, pending_);
  if (sending_.empty()) return after_output_drained();
  send_in_flight_ = true;
  if (io_.sends_zero_copy(sending_.size())) {
    // Large enough for a zero-copy send (io_uring): lend the bytes, since the
    // kernel may read them after a close of this connection.
    lent_ = std::make_shared<Buffer>(std::move(sending_));
    const std::array<std::span<const std::byte>, 1> spans{lent_->readable()};
    io_.send(spans, [this](Result<std::size_t> sent) { handle_sent(std::move(sent)); }, lent_);
    return;
  }
  const std::array<std::span<const std::byte>, 1> spans{sending_.readable()};
  io_.send(spans, [this](Result<std::size_t> sent) { handle_sent(std::move(sent)); });
}

void Connection::handle_sent(Result<std::size_t> sent) {
  auto self = shared_from_this();
  send_in_flight_ = false;
  if (lent_) sending_ = std::move(*std::exchange(lent_, nullptr));  // the kernel is done with it
  if (!sent) return finish(sent.error());
  stats_.bytes_out += *sent;
  add_to_totals(&TrafficTotals::bytes_out, *sent);
  sending_.consume(*sent);
  // With more queued, flush() swaps the drained block in to take the next bytes:
  // freeing it here would make a bulk sender allocate (and fault in) fresh pages
  // for every byte. Only an idle connection gives its blocks back.
  if (pending_.empty()) release_if_idle(sending_);
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
    if (!paused_by_caller_) io_.resume_receive();
    if (on_backpressure_) on_backpressure_(*this, false);
  }
}

void Connection::after_output_drained() {
  release_if_idle(pending_);
  const bool want_fin = write_side_ == WriteSide::fin_wanted || state_ == State::closing;
  if (want_fin && write_side_ != WriteSide::fin_sent) {
    (void)sys::shutdown(fd_.get(), SHUT_WR);  // a failure here means the peer is gone: close will say so
    write_side_ = WriteSide::fin_sent;
  }
  if (state_ != State::closing) return;
  if (read_side_ == ReadSide::peer_closed) return finish({});
  // Wait a bounded time for the peer's FIN, so its last bytes are not met with RST.
  linger_timer_ = loop_.run_after(options_.close_linger, [this] { finish({}); });
}

// --- record mode (seqpacket) ----------------------------------------------------------
// The event layer's receive reads fixed chunks and cannot see a record's length,
// so record mode waits for readability and makes its own recvmsg/sendmmsg calls
// (as DatagramEndpoint does). Stream connections never reach this code.

void Connection::wait_for_records() {
  io_.wait_readable([this](Status ready) { handle_records_readable(ready); });
}

void Connection::handle_records_readable(Status ready) {
  auto self = shared_from_this();
  if (!ready) return finish(ready.error());
  draining_records_ = true;
  RecordStep step = RecordStep::delivered;
  for (int i = 0; i < kRecordsPerWakeup && step == RecordStep::delivered; ++i) {
    if (state_ == State::closed) return;
    // Paused by backpressure (closing reads on, to see the peer's end of stream).
    if (state_ == State::open && (above_high_water_ || paused_by_caller_)) break;
    step = receive_record();
  }
  draining_records_ = false;
  if (state_ == State::closed) return;
  // The replies on_message queued, in batches. Only if there are any: an empty
  // flush while closing would re-arm the linger timer on every drain.
  if (!pending_.empty()) flush_records(/*in_callback=*/true);
  update_backpressure();
  // After the end of stream nothing more is read; otherwise wait again (a paused
  // handle holds the wait until resume_receive()).
  if (state_ != State::closed && step != RecordStep::ended) wait_for_records();
}

Connection::RecordStep Connection::receive_record() {
  const std::size_t max = options_.framing.max_frame;
  std::span<std::byte> into;
  std::unique_ptr<std::byte[]> own;  // a record over the scratch size, for its delivery only
  if (max <= kRecordScratchBytes) {
    // The scratch holds any acceptable record: one call, and MSG_TRUNC's length
    // tells an oversized one apart.
    into = record_scratch().first(max);
  } else {
    auto size = receive_record_into(fd_.get(), {}, MSG_PEEK);
    if (!size) {
      if (sys::is_would_block(size.error())) return RecordStep::again;
      finish(size.error());
      return RecordStep::ended;
    }
    if (*size > max) {
      finish(errc::frame_too_large);
      return RecordStep::ended;
    }
    if (*size <= kRecordScratchBytes) {
      into = record_scratch().first(*size);
    } else {
      own = std::make_unique_for_overwrite<std::byte[]>(*size);
      into = {own.get(), *size};
    }
  }
  auto got = receive_record_into(fd_.get(), into, 0);
  if (!got) {
    if (sys::is_would_block(got.error())) return RecordStep::again;
    finish(got.error());
    return RecordStep::ended;
  }
  if (*got > into.size()) {  // only when max fits the scratch: the record is larger than max
    finish(errc::frame_too_large);
    return RecordStep::ended;
  }
  if (*got == 0) return handle_zero_read();
  return deliver_record(into.first(*got));
}

Connection::RecordStep Connection::deliver_record(std::span<const std::byte> record) {
  stats_.bytes_in += record.size();
  add_to_totals(&TrafficTotals::bytes_in, record.size());
  if (state_ != State::open) return RecordStep::delivered;  // closing: only waiting for the end of stream
  ++stats_.messages_in;
  add_to_totals(&TrafficTotals::messages_in, 1);
  if (on_message_) on_message_(*this, record);
  return state_ == State::closed ? RecordStep::ended : RecordStep::delivered;
}

// A 0-byte read: an empty record, or the end of stream (Linux reports both as 0).
// The end of stream is only reported on an empty queue after the peer shut down,
// and a peer that has shut down cannot queue more; so without POLLRDHUP it was a
// record, and with it, a non-empty record still queued proves it was one too.
Connection::RecordStep Connection::handle_zero_read() {
  const int fd = fd_.get();
  auto events = sys::wait_for(fd, POLLRDHUP, Deadline::at(Deadline::Clock::now()));
  const bool peer_shut_down = events && (*events & (POLLRDHUP | POLLHUP)) != 0;
  if (!peer_shut_down) return deliver_record({});
  auto next = receive_record_into(fd, {}, MSG_PEEK);
  if (next && *next > 0) return deliver_record({});
  handle_end_of_stream();
  return RecordStep::ended;
}

Status Connection::send_record(std::span<const std::byte> message) {
  if (message.size() > options_.framing.max_frame || message.size() > UINT32_MAX) {
    return fail(errc::frame_too_large);
  }
  if (queued_output() + message.size() + kRecordHeaderBytes > options_.max_output_bytes) {
    return fail(errc::limit_reached);
  }
  const auto length = static_cast<RecordLength>(message.size());
  std::span<std::byte> room = pending_.prepare(kRecordHeaderBytes + message.size());
  std::memcpy(room.data(), &length, kRecordHeaderBytes);
  if (!message.empty()) std::memcpy(room.data() + kRecordHeaderBytes, message.data(), message.size());
  pending_.commit(kRecordHeaderBytes + message.size());
  ++stats_.messages_out;
  add_to_totals(&TrafficTotals::messages_out, 1);
  // Inside a receive drain the replies are written together when it ends.
  if (!draining_records_) flush_records(/*in_callback=*/false);
  update_backpressure();
  return {};
}

// One sendmmsg per kRecordsPerSend records until the queue is empty or the kernel
// says EAGAIN (a seqpacket send is all or nothing: no record is ever half sent).
// Called from send(), close() or shutdown_write() (not `in_callback`), a failure
// closes the connection from a zero-delay timer instead: on_close must not run
// inside the caller's call, which may be iterating over its connections.
void Connection::flush_records(bool in_callback) {
  if (send_in_flight_ || state_ == State::closed) return;
  std::array<mmsghdr, kRecordsPerSend> headers;
  std::array<iovec, kRecordsPerSend> iov;
  while (!pending_.empty()) {
    const std::span<const std::byte> queued = pending_.readable();
    unsigned count = 0;
    for (std::size_t at = 0; count < kRecordsPerSend && at < queued.size(); ++count) {
      RecordLength length = 0;
      std::memcpy(&length, queued.data() + at, kRecordHeaderBytes);
      // The kernel only reads through msg_iov.
      iov[count] = iovec{const_cast<std::byte*>(queued.data() + at + kRecordHeaderBytes), length};
      headers[count] = mmsghdr{};
      headers[count].msg_hdr.msg_iov = &iov[count];
      headers[count].msg_hdr.msg_iovlen = 1;
      at += kRecordHeaderBytes + length;
    }
    auto sent = sys::sendmmsg(fd_.get(), headers.data(), count, MSG_DONTWAIT);
    if (!sent && !sys::is_would_block(sent.error())) {  // EMSGSIZE, EPIPE, ...
      if (in_callback) return finish(sent.error());
      send_in_flight_ = true;  // nothing more is written
      linger_timer_ = loop_.run_after(std::chrono::nanoseconds(0), [this, error = sent.error()] {
        finish(error);
      });
      return;
    }
    if (!sent) {
      send_in_flight_ = true;
      io_.wait_writable([this](Status ready) {
        auto self = shared_from_this();
        send_in_flight_ = false;
        if (!ready) return finish(ready.error());
        flush_records(/*in_callback=*/true);
        update_backpressure();
      });
      return;
    }
    std::size_t bytes = 0;
    for (std::size_t i = 0; i < *sent; ++i) bytes += iov[i].iov_len;
    pending_.consume(bytes + *sent * kRecordHeaderBytes);
    stats_.bytes_out += bytes;
    add_to_totals(&TrafficTotals::bytes_out, bytes);
  }
  after_output_drained();
}

// --- closing ---------------------------------------------------------------------------

void Connection::shutdown_write() {
  if (state_ != State::open || write_side_ != WriteSide::open) return;
  write_side_ = WriteSide::fin_wanted;
  flush();
}

void Connection::pause_reading() {
  paused_by_caller_ = true;
  if (state_ == State::open) io_.pause_receive();
}

void Connection::resume_reading() {
  paused_by_caller_ = false;
  if (state_ == State::open && !above_high_water_) io_.resume_receive();
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
  lent_.reset();  // the loop holds its own reference while the kernel may read it
  pending_ = Buffer();
  if (auto fn = std::move(on_close_)) fn(*this, reason);
  on_message_ = nullptr;
  on_backpressure_ = nullptr;
  on_peer_closed_ = nullptr;
}

}  // namespace sockit::net
