// Connection: a stream or seqpacket socket driven by an EventLoop — framed input,
// a queued output with backpressure, half-close, graceful and abortive close,
// counters.
//
// Input is cut into messages by the Framing (connection options) and handed to
// on_message one at a time; a framing error (errc::frame_too_large) closes only
// this connection, with that error as the reason.
//
// Output (streams; record mode below): send() frames the message and copies it
// (framing and payload together) to the back of one contiguous queue, so the
// caller's bytes need not outlive the call. One send operation is in flight at
// a time; what is queued behind it goes out as the next one when it completes.
// When the bytes reach the kernel: at the end of the loop turn in which they were
// sent (EventLoop::defer), all the messages of that turn together, so a callback
// that sends 16 replies makes one write, not 16 (and a sender of small messages
// outside the callbacks, between turns, is written at the start of the next turn).
// Backpressure counts them at once. Then, by backend:
//  - readiness (select, poll, epoll): with nothing queued ahead, the turn's bytes
//    are written through at once, one send(2). What the kernel does not take
//    stays queued for the loop's send operation, which writes it as the socket
//    becomes writable; an error is left for that operation to report, so send()
//    never closes the connection (or calls on_close) under its caller. The raw
//    framing's send() with nothing queued ahead writes inside the call (an echo's
//    reply to one read is already one write).
//  - io_uring: the send is submitted with the loop's next io_uring_enter (as a
//    zero-copy send once the queue reaches the backend's threshold: the bytes are
//    then lent to the loop until the kernel lets go).
// While the queue is above the high-water mark, reading is paused (so a peer that
// does not read cannot make us buffer its requests either) and
// on_backpressure(true) fires, then (false) once it drains to the low mark.
// send() refuses (errc::limit_reached) beyond max_output_bytes.
//
// Why one contiguous queue and no writev of framing + payload: send() cannot keep
// a pointer to the caller's span, so the payload is copied anyway and the 4-byte
// length (or the line's delimiter) rides along in the same copy (callgrind: ~140
// instructions per KiB for 1 KiB messages). Sending the unsent rest of one
// block and the block queued behind it in one two-iovec sendmsg would save a
// syscall only after a short write, i.e. when the socket buffer is full and the
// peer, not this process, sets the pace: in a 64 MiB bulk transfer over a socketpair, 37 of 382 flushes found
// both on epoll, 1 of 225 on io_uring. It would cost a third buffer (no block that
// is in flight may be appended to or moved), which a connection under
// backpressure would hold as well, and a lent pair of blocks for zero copy.
//
// Record mode (SOCK_SEQPACKET, detected with SO_TYPE by create(): a socket cannot
// be misdeclared): the kernel keeps the boundaries, so the framing's kind is
// ignored and each record is one message; on_message gets exactly one record,
// send() queues exactly one, never merged with another or split. framing.max_frame
// still bounds a record: a larger one arriving closes the connection with
// errc::frame_too_large (like an oversized length prefix), and send() refuses one
// with the same error.
//  - Input: the connection waits for readability and makes its own recvmsg calls
//    with MSG_TRUNC, so a record is never cut silently. When max_frame fits the
//    thread's 64 KiB record scratch, one call per record; when it is larger, the
//    size is peeked first (MSG_PEEK|MSG_TRUNC, no bytes copied) and a record over
//    64 KiB is read into a buffer of its own size, freed after delivery: an idle
//    connection holds no receive buffer.
//  - Output: records are queued in one Buffer (a 4-byte length before each,
//    counted in queued_output() and against max_output_bytes: empty records are not
//    free) and written with sendmmsg, up to 64 per call; replies sent from
//    on_message go out together once the receive drain ends. A seqpacket send is
//    all or nothing; a record the kernel refuses (EMSGSIZE: larger than the
//    socket's send buffer) closes the connection with that error (on_close then
//    runs from the loop, never inside send() or close()).
//  - A 0-byte read is an empty record or the end of stream (Linux says 0 for both).
//    If poll(2) shows no POLLRDHUP, the peer has not shut down, so it was a record
//    (delivered as an empty message); if the peer has shut down, it was a record
//    only if a non-empty record follows it. Limitation: empty records that come
//    last before the peer's shutdown are taken for the end of stream.
//
// Lifetime: always held by shared_ptr (create() makes one). The owner keeps it
// until on_close, which runs exactly once, after which the socket is closed and
// no callback runs again. Callbacks may call any method, including close().
//
// Threads: loop thread only (create it on the loop thread, or post() there).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string_view>
#include <system_error>
#include <utility>

#include "sockit/event/event_loop.hpp"
#include "sockit/event/io_handle.hpp"
#include "sockit/fd.hpp"
#include "sockit/net/buffer.hpp"
#include "sockit/net/framing.hpp"
#include "sockit/tcp_options.hpp"

namespace sockit::net {

// Running totals that many connections add to, readable from any thread while
// they run (a Server keeps one per worker, so its stats include live traffic).
// Relaxed atomics: each total is exact on its own, a snapshot of all four is not.
// One writer: every connection that adds to one TrafficTotals must run on the same
// loop (the loop thread adds with a plain load and store, which two writers would
// race on); give each loop its own and sum them when reading, as Server does.
// The fields mean what ConnectionStats' do (below): messages_out is messages
// queued for sending, not messages written.
struct TrafficTotals {
  std::atomic<std::uint64_t> bytes_in{0};
  std::atomic<std::uint64_t> bytes_out{0};
  std::atomic<std::uint64_t> messages_in{0};
  std::atomic<std::uint64_t> messages_out{0};
};

struct ConnectionOptions {
  Framing framing;
  std::size_t high_water_mark = 4u << 20;     // pause reading above this much queued output
  std::size_t low_water_mark = 1u << 20;      // resume once at or below this
  std::size_t max_output_bytes = 64u << 20;   // send() refuses beyond this
  std::chrono::milliseconds close_linger{5000};  // graceful close: wait this long for the peer's FIN
  TrafficTotals* totals = nullptr;  // borrowed, optional: also counted here; must outlive the connection
};

// bytes_in: bytes read from the socket (while closing, also the ones discarded).
// bytes_out: payload and framing bytes the kernel has accepted (record mode:
// record bytes, without the queue's length words).
// messages_in: messages delivered to on_message.
// messages_out: messages send() accepted and queued for sending, counted when
// queued, not when written: one still queued, or dropped by abort() or an error,
// is counted. Counting at write time would mean a queue of message boundaries
// beside the byte queue; bytes_out says how much really went out.
struct ConnectionStats {
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::uint64_t messages_in = 0;
  std::uint64_t messages_out = 0;  // queued for sending (see above)
  std::chrono::steady_clock::time_point connected_at;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // std::function, not move_only_function: libstdc++ 12's move_only_function
  // needs its parameter types complete, and Connection is not complete here.
  using MessageFn = std::function<void(Connection&, std::span<const std::byte>)>;
  using CloseFn = std::function<void(Connection&, std::error_code)>;
  using BackpressureFn = std::function<void(Connection&, bool above_high_water)>;
  using PeerClosedFn = std::function<void(Connection&)>;

  // Takes a connected stream or seqpacket socket (made non-blocking here).
  [[nodiscard]] static Result<std::shared_ptr<Connection>> create(event::EventLoop& loop, Fd fd,
                                                                 ConnectionOptions options = {});
  ~Connection();

  void on_message(MessageFn fn) { on_message_ = std::move(fn); }
  void on_close(CloseFn fn) { on_close_ = std::move(fn); }
  // Hands back the on_close handler set so far (leaving none), for an owner that
  // wraps it in its own (net::Server chains a connection handler's on_close).
  [[nodiscard]] CloseFn take_on_close() { return std::exchange(on_close_, nullptr); }
  void on_backpressure(BackpressureFn fn) { on_backpressure_ = std::move(fn); }
  // The peer half-closed (sent FIN). Default without a handler: finish sending
  // what is queued, then close. With one, the connection stays open for writing.
  void on_peer_closed(PeerClosedFn fn) { on_peer_closed_ = std::move(fn); }

  // Starts reading. Call once, after setting the callbacks.
  void start();
  // Frames and queues one message.
  [[nodiscard]] Status send(std::span<const std::byte> message);
  [[nodiscard]] Status send(std::string_view text) { return send(std::as_bytes(std::span(text.data(), text.size()))); }
  // Half-close: FIN after everything queued is sent; reading goes on.
  void shutdown_write();
  // Stops reading from the socket until resume_reading(), whatever this
  // connection's own output queue says: for a caller that hands the input to a
  // slower consumer (a relay's other connection, a delay queue), whose backpressure
  // this connection cannot see. Composes with the high-water pause: reading resumes
  // only once neither holds it. Closing reads on regardless (to see the peer's FIN).
  void pause_reading();
  void resume_reading();
  // Graceful: stop reading, flush, FIN, wait (close_linger) for the peer's FIN, close.
  void close();
  // Abortive: drop queued output and reset the connection (RST), now.
  void abort();

  [[nodiscard]] bool is_open() const noexcept { return state_ != State::closed; }
  // The loop this connection runs on: where a handler creates what must run beside
  // it (a relay's Connector to the other side, its timers).
  [[nodiscard]] event::EventLoop& loop() const noexcept { return loop_; }
  // True on a seqpacket socket: one message per record (see the top of this file).
  [[nodiscard]] bool is_record_mode() const noexcept { return unit_ == Unit::records; }
  [[nodiscard]] std::size_t queued_output() const noexcept {
    return sending_.size() + pending_.size() + (lent_ ? lent_->size() : 0);
  }
  [[nodiscard]] const ConnectionStats& stats() const noexcept { return stats_; }
  [[nodiscard]] int native_handle() const noexcept { return fd_.get(); }
  [[nodiscard]] Result<TcpInfo> tcp_info() const { return tcp_option::info(fd_.get()); }

 private:
  // The connection as a whole: open, closing (queued output drains, then FIN, then
  // the peer's FIN within close_linger), closed.
  enum class State : std::uint8_t { open, closing, closed };
  // Our sending direction: open; a FIN is wanted once queued output drains
  // (shutdown_write()); the FIN is sent. close() wants the FIN as well, through State.
  enum class WriteSide : std::uint8_t { open, fin_wanted, fin_sent };
  // Our receiving direction: open until the peer's end of stream (FIN, or a
  // zero-length read on seqpacket); nothing is read after it.
  enum class ReadSide : std::uint8_t { open, peer_closed };
  // What one message is: bytes cut by the framing (streams), or one record
  // (seqpacket), fixed at creation from the socket's own type.
  enum class Unit : std::uint8_t { bytes, records };
  Connection(event::EventLoop& loop, Fd fd, ConnectionOptions options);

  void handle_receive(Result<std::span<const std::byte>> chunk);
  bool deliver_frames(std::span<const std::byte> input, std::size_t& consumed);
  void write_through();
  void flush_at_turn_end();
  void flush();
  void handle_sent(Result<std::size_t> sent);
  void update_backpressure();
  void after_output_drained();
  // Record mode.
  enum class RecordStep : std::uint8_t { delivered, again, ended };
  Status send_record(std::span<const std::byte> message);
  Status send_raw_now(std::span<const std::byte> message);
  void flush_records(bool in_callback);
  void wait_for_records();
  void handle_records_readable(Status ready);
  RecordStep receive_record();
  RecordStep deliver_record(std::span<const std::byte> record);
  RecordStep handle_zero_read();
  void handle_end_of_stream();
  void finish(std::error_code reason);
  // Only this connection's loop thread writes its totals (see TrafficTotals), so a
  // relaxed load and store do: no locked read-modify-write four times a message.
  void add_to_totals(std::atomic<std::uint64_t> TrafficTotals::*total, std::uint64_t n) {
    if (options_.totals) {
      std::atomic<std::uint64_t>& t = options_.totals->*total;
      t.store(t.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
  }

  // Members in the order a received message touches them (each connection's
  // lines are cold at 10,000 connections): identity, state and the handler first.
  event::EventLoop& loop_;
  Fd fd_;
  event::IoHandle io_;
  State state_ = State::open;
  Unit unit_ = Unit::bytes;
  ReadSide read_side_ = ReadSide::open;
  WriteSide write_side_ = WriteSide::open;
  // A send operation is with the loop (record mode: waiting for writability, or failed).
  bool send_in_flight_ = false;
  bool flush_scheduled_ = false;  // a flush_at_turn_end() is deferred on the loop
  // Backpressure's hysteresis: set above high_water_mark (reading paused), cleared
  // at or below low_water_mark (reading resumed).
  bool above_high_water_ = false;
  bool draining_records_ = false;  // record mode: inside a receive drain, sends wait for its end
  bool paused_by_caller_ = false;  // pause_reading(): holds reading paused beside the high-water pause
  MessageFn on_message_;
  ConnectionStats stats_;
  ConnectionOptions options_;
  Buffer input_;
  Buffer sending_;  // bytes handed to the kernel (must not move while a send is in flight)
  Buffer pending_;  // bytes queued behind them (record mode: [4-byte length][record]...)
  // sending_ lent to the loop for a send that may go out zero-copy: the loop keeps
  // it alive until the kernel lets go of its pages, even after this connection.
  std::shared_ptr<Buffer> lent_;
  event::TimerHandle linger_timer_;  // also record mode's deferred close after a failed send
  CloseFn on_close_;
  BackpressureFn on_backpressure_;
  PeerClosedFn on_peer_closed_;
};

}  // namespace sockit::net
