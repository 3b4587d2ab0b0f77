// Connection: a stream socket driven by an EventLoop — framed input, a queued
// output with backpressure, half-close, graceful and abortive close, counters.
//
// Input is cut into messages by the Framing (connection options) and handed to
// on_message one at a time; a framing error (errc::frame_too_large) closes only
// this connection, with that error as the reason. Output is queued and written
// with one sendmsg per loop turn at most; while the queue is above the high-water
// mark, reading is paused (so a peer that does not read cannot make us buffer its
// requests either) and on_backpressure(true) fires, then (false) once it drains
// below the low mark. send() refuses (errc::limit_reached) beyond max_output_bytes.
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
struct TrafficTotals {
  std::atomic<std::uint64_t> bytes_in{0};
  std::atomic<std::uint64_t> bytes_out{0};
  std::atomic<std::uint64_t> messages_in{0};
  std::atomic<std::uint64_t> messages_out{0};
};

struct ConnectionOptions {
  Framing framing;
  std::size_t high_water_mark = 4u << 20;     // pause reading above this much queued output
  std::size_t low_water_mark = 1u << 20;      // resume below this
  std::size_t max_output_bytes = 64u << 20;   // send() refuses beyond this
  std::chrono::milliseconds close_linger{5000};  // graceful close: wait this long for the peer's FIN
  TrafficTotals* totals = nullptr;  // borrowed, optional: also counted here; must outlive the connection
};

struct ConnectionStats {
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::uint64_t messages_in = 0;
  std::uint64_t messages_out = 0;
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

  // Takes a connected, non-blocking stream socket.
  [[nodiscard]] static Result<std::shared_ptr<Connection>> create(event::EventLoop& loop, Fd fd,
                                                                 ConnectionOptions options = {});
  ~Connection();

  void on_message(MessageFn fn) { on_message_ = std::move(fn); }
  void on_close(CloseFn fn) { on_close_ = std::move(fn); }
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
  // Graceful: stop reading, flush, FIN, wait (close_linger) for the peer's FIN, close.
  void close();
  // Abortive: drop queued output and reset the connection (RST), now.
  void abort();

  [[nodiscard]] bool is_open() const noexcept { return state_ != State::closed; }
  [[nodiscard]] std::size_t queued_output() const noexcept { return sending_.size() + pending_.size(); }
  [[nodiscard]] const ConnectionStats& stats() const noexcept { return stats_; }
  [[nodiscard]] int native_handle() const noexcept { return fd_.get(); }
  [[nodiscard]] Result<TcpInfo> tcp_info() const { return tcp_option::info(fd_.get()); }

 private:
  enum class State : std::uint8_t { open, closing, closed };
  Connection(event::EventLoop& loop, Fd fd, ConnectionOptions options);

  void handle_receive(Result<std::span<const std::byte>> chunk);
  bool deliver_frames(std::span<const std::byte> input, std::size_t& consumed);
  void flush();
  void handle_sent(Result<std::size_t> sent);
  void update_backpressure();
  void after_output_drained();
  void finish(std::error_code reason);
  void add_to_totals(std::atomic<std::uint64_t> TrafficTotals::*total, std::uint64_t n) {
    if (options_.totals) (options_.totals->*total).fetch_add(n, std::memory_order_relaxed);
  }

  event::EventLoop& loop_;
  Fd fd_;
  event::IoHandle io_;
  ConnectionOptions options_;
  Buffer input_;
  Buffer sending_;  // bytes handed to the kernel (must not move while a send is in flight)
  Buffer pending_;  // bytes queued behind them
  bool send_in_flight_ = false;
  bool reading_paused_ = false;
  bool above_high_water_ = false;
  bool write_shutdown_requested_ = false;
  bool write_shut_ = false;
  bool peer_closed_ = false;
  State state_ = State::open;
  event::TimerHandle linger_timer_;
  ConnectionStats stats_;
  MessageFn on_message_;
  CloseFn on_close_;
  BackpressureFn on_backpressure_;
  PeerClosedFn on_peer_closed_;
};

}  // namespace sockit::net
