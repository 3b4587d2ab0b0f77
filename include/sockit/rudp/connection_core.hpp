// rudp::ConnectionCore: one reliable-UDP connection as a sans-IO state machine
// (docs/RUDP.md). It never reads a clock and never touches a socket: the owner
// feeds it the datagrams addressed to it (on_datagram) and the time (on_timer at
// or after next_timeout()), and takes out the datagrams it wants sent
// (poll_transmit, until it returns 0) and the messages it has received
// (receive). Everything is deterministic given the inputs, which is what lets
// tests run it over a simulated network in simulated time.
//
// Connections are created and owned by an EndpointCore (connect() on the client
// side, a HELLO with a valid cookie on the server side), which routes datagrams
// to them by connection id; the pointers it hands out stay valid until
// EndpointCore::release(). The internals live behind a pointer (Impl) so the
// header shows only the contract.
//
// After any call, the owner should drain poll_transmit() and re-read
// next_timeout(): a received packet can make an ACK due, a send() can open new
// fragments, a timer can schedule a probe.
//
// Threads: not thread-safe; one owner thread (the endpoint's loop thread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <system_error>
#include <vector>

#include "sockit/result.hpp"
#include "sockit/rudp/config.hpp"

namespace sockit::rudp {

enum class ConnectionState : std::uint8_t {
  connecting,   // client: HELLO sent, waiting for CHALLENGE / ACCEPT
  accepting,    // server: ACCEPT sent, waiting for the client's first packet
  established,
  closing,      // close() called or the peer's CLOSE received: flushing what is
                // queued, then CLOSE until acknowledged, and waiting for the peer's
  draining,     // both CLOSEs done: acknowledging retransmissions for 3 PTO
  closed,       // final; error() says why (empty for a completed graceful close)
};

struct Message {
  std::uint8_t channel = 0;
  DeliveryMode mode = DeliveryMode::reliable_ordered;
  std::vector<std::byte> data;
};

class ConnectionCore {
 public:
  class Impl;
  explicit ConnectionCore(std::unique_ptr<Impl> impl);
  ~ConnectionCore();
  ConnectionCore(const ConnectionCore&) = delete;
  ConnectionCore& operator=(const ConnectionCore&) = delete;

  // Queues `message` on `channel` (its mode is Config::channels[channel]).
  // Errors: errc::invalid_argument (no such channel), errc::frame_too_large (above
  // our or the peer's max_message), errc::limit_reached (max_send_buffer or 2^16
  // unacknowledged messages on a reliable channel), errc::end_of_stream (closing
  // or closed).
  [[nodiscard]] Status send(std::span<const std::byte> message, std::uint8_t channel);
  // The next received message, if any. Taking a reliable message out returns its
  // bytes to the peer's flow-control credit.
  std::optional<Message> receive();

  // Graceful close: what is queued is still sent and acknowledged, then CLOSE;
  // what the peer still sends is received until its own CLOSE (it closes too).
  void close(Instant now);

  // Writes the next datagram to send into `out` (at least max_datagram_size
  // bytes) and returns its size; 0 when there is nothing to send now.
  std::size_t poll_transmit(Instant now, std::span<std::byte> out);
  void on_timer(Instant now);
  // When on_timer must next be called (nullopt once closed).
  std::optional<Instant> next_timeout() const;

  ConnectionState state() const;
  // Why the connection closed: errc::peer_dead (idle timeout), errc::timed_out
  // (handshake), errc::end_of_stream (the peer closed), errc::protocol_violation;
  // empty for an open connection or one we closed gracefully.
  std::error_code error() const;
  ConnectionStats stats() const;
  std::uint64_t id() const;  // our connection id (what the peer puts in its headers)

  Impl& impl() { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace sockit::rudp
