// DatagramSocket: UDP (IPv4/IPv6) or Unix datagram (path or abstract).
//
// Message boundaries are kept, and never silently cut: a datagram larger than the
// buffer is reported as errc::message_truncated (it has been consumed; peek its size
// with next_message_size() when sizes are unknown). A connected UDP socket reports
// the peer's ICMP port-unreachable as ECONNREFUSED on a later send or receive.
// Sends use MSG_NOSIGNAL. Zero-length datagrams are legal and return 0.
//
// send_batch/recv_batch move many datagrams per syscall (sendmmsg/recvmmsg).
// Ownership and threads: see Socket.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "sockit/address.hpp"
#include "sockit/connect_options.hpp"
#include "sockit/deadline.hpp"
#include "sockit/socket.hpp"
#include "sockit/unix_file_options.hpp"

namespace sockit {

struct Datagram {
  std::size_t size = 0;  // bytes written into the buffer
  Address from;          // sender (unnamed for an unbound Unix sender)
};

// One slot of a batch: the caller owns the buffers.
struct DatagramSlot {
  std::span<std::byte> buffer;  // in: where to receive
  std::size_t size = 0;         // out: bytes received
  bool truncated = false;       // out: the datagram was larger than buffer
  Endpoint from;                // out: sender
};

struct OutgoingDatagram {
  std::span<const std::byte> data;
  const Endpoint* to = nullptr;  // nullptr on a connected socket
};

struct DatagramBindOptions {
  UnixFileOptions unix_file{};  // Unix path: the socket file's mode, owner, group, parent
  // UDP: several sockets share the port (SO_REUSEPORT; the kernel spreads senders
  // across them by a hash of the source address).
  bool reuse_port = false;
  // UDP and abstract Unix: while bind finds the address in use, retry for this
  // long (see ListenOptions::bind_retry_for: a killed server's socket can outlive
  // its process briefly). A live server is never displaced.
  std::chrono::milliseconds bind_retry_for{0};
  // UDP: which family of a name that has both to bind (see ListenOptions::family);
  // a unix-dgram: address takes only AF_UNSPEC (errc::invalid_argument).
  int family = AF_UNSPEC;
};

class DatagramSocket : public Socket {
 public:
  DatagramSocket() = default;
  DatagramSocket(Fd fd, Transport transport) noexcept : Socket(std::move(fd), transport) {}
  DatagramSocket(Fd fd, Transport transport, SocketFile file) noexcept
      : Socket(std::move(fd), transport, std::move(file)) {}

  // A socket bound to `address` (udp:// or unix-dgram:). Port 0 takes an ephemeral
  // port; a Unix path gets the same stale-file handling, mode and cleanup as listen()
  // (see listener.hpp), with options.unix_file for the socket file's mode, owner and group.
  [[nodiscard]] static Result<DatagramSocket> bind(const Address& address, const DatagramBindOptions& options = {});
  // A socket connected to `address`. A Unix client is auto-bound to a fresh abstract
  // name so the peer can reply. UDP takes options.family and options.local_address
  // (see connect_options.hpp); the TCP-only options are errc::invalid_argument.
  [[nodiscard]] static Result<DatagramSocket> connect(const Address& address, const ConnectOptions& options = {});
  // An unbound socket for send_to (family taken from the address's transport and,
  // for IP, from `family`: AF_INET or AF_INET6).
  [[nodiscard]] static Result<DatagramSocket> open(Transport transport, int family = AF_INET);

  // --- connected -----------------------------------------------------------------
  [[nodiscard]] Status send(std::span<const std::byte> data, Deadline deadline = {});
  [[nodiscard]] Status send(std::string_view text, Deadline deadline = {}) {
    return send(std::as_bytes(std::span(text.data(), text.size())), deadline);
  }
  [[nodiscard]] Result<std::size_t> recv(std::span<std::byte> buffer, Deadline deadline = {});

  // --- unconnected ---------------------------------------------------------------
  [[nodiscard]] Status send_to(std::span<const std::byte> data, const Endpoint& to, Deadline deadline = {});
  // Resolves `to` and sends to its first endpoint.
  [[nodiscard]] Status send_to(std::span<const std::byte> data, const Address& to, Deadline deadline = {});
  [[nodiscard]] Result<Datagram> recv_from(std::span<std::byte> buffer, Deadline deadline = {});
  // The size of the next datagram without consuming it (waits for one).
  [[nodiscard]] Result<std::size_t> next_message_size(Deadline deadline = {});

  // --- batches -------------------------------------------------------------------
  // Sends as many as the kernel takes in one sendmmsg; returns how many went.
  [[nodiscard]] Result<std::size_t> send_batch(std::span<const OutgoingDatagram> datagrams, Deadline deadline = {});
  // Waits for at least one datagram, then takes up to slots.size() without waiting
  // more; returns how many slots were filled. Truncation is flagged per slot.
  [[nodiscard]] Result<std::size_t> recv_batch(std::span<DatagramSlot> slots, Deadline deadline = {});

  // --- UDP options ---------------------------------------------------------------
  [[nodiscard]] Status set_broadcast(bool on);
  [[nodiscard]] Result<bool> broadcast() const;
  // Joins/leaves a multicast group on an interface (0 / "" = the kernel's choice).
  // IPv4 groups use IP_ADD_MEMBERSHIP, IPv6 groups IPV6_JOIN_GROUP.
  [[nodiscard]] Status join_multicast(std::string_view group, unsigned interface_index = 0);
  [[nodiscard]] Status leave_multicast(std::string_view group, unsigned interface_index = 0);
  [[nodiscard]] Status set_multicast_ttl(int hops);
  [[nodiscard]] Result<int> multicast_ttl() const;
  [[nodiscard]] Status set_multicast_loopback(bool on);
  [[nodiscard]] Result<bool> multicast_loopback() const;
};

}  // namespace sockit
