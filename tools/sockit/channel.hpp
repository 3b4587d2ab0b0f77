// Channel: one connected socket of any kind — stream (TCP, Unix), seqpacket or
// connected datagram — behind the handful of calls the relay and the echo server
// need, so that they are written once instead of once per transport.
//
// Every call makes one attempt and never waits: the callers sit in poll(2) and call
// in only when the descriptor is ready. "Not now" comes back as an error for which
// would_block() is true. (Each call passes an already-expired deadline, which makes
// sockit try once with MSG_DONTWAIT whether or not the socket is non-blocking.)
//
// Ownership: the Channel owns its socket. One thread.
#pragma once

#include <cstddef>
#include <span>
#include <variant>

#include "out_queue.hpp"
#include "sockit/sockit.hpp"

namespace sockit::cli {

// EAGAIN, or the expired "try once" deadline: the operation would have had to wait.
[[nodiscard]] bool would_block(const std::error_code& ec) noexcept;
// A deadline that has already passed: one attempt, no waiting.
[[nodiscard]] Deadline try_once() noexcept;
// How much to read from a source (stdin) before sending it as one piece: 64 KiB, but
// never more than one UDP datagram can carry (a larger send fails with EMSGSIZE).
[[nodiscard]] std::size_t send_chunk_size(Transport transport) noexcept;

class Channel {
 public:
  explicit Channel(StreamSocket socket) : socket_(std::move(socket)) {}
  explicit Channel(SeqPacketSocket socket) : socket_(std::move(socket)) {}
  explicit Channel(DatagramSocket socket) : socket_(std::move(socket)) {}

  [[nodiscard]] int fd() const noexcept;
  // The socket itself, for the library calls that take any socket (send_fds, ...).
  [[nodiscard]] const Socket& socket() const noexcept;
  // Seqpacket and datagram: every send is one record and every recv returns one.
  [[nodiscard]] bool keeps_boundaries() const noexcept {
    return !std::holds_alternative<StreamSocket>(socket_);
  }
  // Datagram sockets have no end of stream: a 0-byte recv is an empty datagram.
  [[nodiscard]] bool is_datagram() const noexcept { return std::holds_alternative<DatagramSocket>(socket_); }
  // The largest record this channel can deliver in one recv (the buffer size to use).
  [[nodiscard]] std::size_t receive_buffer_size() const noexcept;
  [[nodiscard]] std::size_t send_chunk_size() const noexcept;

  // Bytes received; 0 means the peer closed (stream, seqpacket) or an empty datagram.
  [[nodiscard]] Result<std::size_t> recv(std::span<std::byte> buffer);
  // Sends as much of the queue as the kernel takes now. Returns true once it is empty.
  [[nodiscard]] Result<bool> flush(OutQueue& queue);
  // Our direction is finished: the peer reads end of stream (not for datagrams).
  [[nodiscard]] Status shutdown_write();
  [[nodiscard]] Status set_non_blocking(bool on);
  [[nodiscard]] Result<std::error_code> pending_error() const;
  [[nodiscard]] Result<Address> peer_address() const;
  [[nodiscard]] Result<Address> local_address() const;
  // Unix sockets: who connected (SO_PEERCRED); other transports: wrong_transport.
  [[nodiscard]] Result<Credentials> peer_credentials() const;

 private:
  std::variant<StreamSocket, SeqPacketSocket, DatagramSocket> socket_;
};

// Connects to any address: stream, seqpacket or datagram (a connected datagram
// socket, Unix clients auto-bound so the server can answer). `options` as for
// sockit::connect (its IP-only fields with a Unix address: invalid_argument).
[[nodiscard]] Result<Channel> connect_channel(const Address& address, Deadline deadline,
                                              const ConnectOptions& options = {});
// Accepts one connection on a stream or seqpacket listener (try_once or a deadline).
[[nodiscard]] Result<Channel> accept_channel(Listener& listener, Deadline deadline, bool non_blocking);

}  // namespace sockit::cli
