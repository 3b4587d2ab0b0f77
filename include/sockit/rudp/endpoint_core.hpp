// rudp::EndpointCore: the sans-IO side of one UDP socket speaking reliable UDP
// to many peers (docs/RUDP.md). It owns the connections, routes each datagram
// to one by its destination connection id, answers handshakes statelessly
// (cookies), and merges what the connections want to send into one stream of
// (peer, datagram) for the owner to write — with sendmmsg, in batches.
//
// The owner's loop, in any order and as often as it likes:
//   on_datagram(from, bytes, now)   for every datagram read from the socket
//   on_timer(now)                   once now >= next_timeout()
//   poll_transmit(now, buffer)      until it returns nullopt; write each one
//   poll_event()                    connections established, accepted, closed
// and the application uses the ConnectionCore pointers (send, receive, close).
//
// Memory: per connection only after a HELLO that carries a valid cookie (a
// spoofed flood allocates nothing per peer); stateless replies wait in a ring of
// fixed size; reassembly over all connections is bounded by
// EndpointConfig::max_reassembly_bytes.
//
// Ownership: connection pointers stay valid until release(); a closed connection
// stays (with its unread messages and final stats) until then.
//
// Threads: not thread-safe; one owner thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <system_error>

#include "sockit/result.hpp"
#include "sockit/rudp/config.hpp"
#include "sockit/rudp/connection_core.hpp"

namespace sockit::rudp {

// A peer's address as opaque bytes (a sockaddr_in / sockaddr_in6 as received):
// the core compares and hashes it and binds cookies to it, nothing more.
struct PeerAddress {
  static constexpr std::size_t kMaxSize = 28;  // sizeof(sockaddr_in6)
  std::array<std::byte, kMaxSize> bytes{};
  std::uint8_t size = 0;

  // Longer input is refused (nullopt): no address type the endpoint serves is.
  static std::optional<PeerAddress> from(std::span<const std::byte> raw);
  std::span<const std::byte> view() const { return std::span(bytes).first(size); }
  friend bool operator==(const PeerAddress&, const PeerAddress&) = default;
};

struct Transmit {
  PeerAddress peer;
  std::size_t size = 0;  // bytes written at the start of the caller's buffer
};

struct EndpointEvent {
  enum class Kind : std::uint8_t {
    connected,  // our connect() completed its handshake
    accepted,   // a peer's handshake completed (server side)
    closed,     // the connection reached ConnectionState::closed; see error
  };
  Kind kind = Kind::closed;
  ConnectionCore* connection = nullptr;
  std::error_code error;
};

class EndpointCore {
 public:
  // errc::invalid_argument if the configuration is inconsistent.
  [[nodiscard]] static Result<std::unique_ptr<EndpointCore>> create(const EndpointConfig& config);
  ~EndpointCore();
  EndpointCore(const EndpointCore&) = delete;
  EndpointCore& operator=(const EndpointCore&) = delete;

  // Starts a handshake with `peer`; errc::limit_reached beyond max_connections.
  [[nodiscard]] Result<ConnectionCore*> connect(const PeerAddress& peer, Instant now);

  void on_datagram(const PeerAddress& from, std::span<const std::byte> datagram, Instant now);
  void on_timer(Instant now);
  // Writes the next datagram into `out` (at least max_datagram_size bytes).
  std::optional<Transmit> poll_transmit(Instant now, std::span<std::byte> out);
  std::optional<Instant> next_timeout() const;
  std::optional<EndpointEvent> poll_event();

  // Forgets a connection (closed or not: an open one vanishes without a CLOSE,
  // and its peer will find it dead). The pointer is invalid afterwards.
  void release(ConnectionCore* connection);

  EndpointStats stats() const;
  std::size_t connection_count() const;

  class Impl;

 private:
  explicit EndpointCore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sockit::rudp
