// SeqPacketSocket: a connected Unix SOCK_SEQPACKET socket — reliable, ordered,
// and message boundaries kept (each send is one record; each recv returns one).
//
// A record larger than the receive buffer is not silently cut: recv returns
// errc::message_truncated (the record is consumed; call next_message_size() first
// when sizes are unknown). A peer close is recv() returning 0 bytes.
// Sends use MSG_NOSIGNAL. Ownership and threads: see Socket.
#pragma once

#include <cstddef>
#include <span>

#include "sockit/deadline.hpp"
#include "sockit/socket.hpp"

namespace sockit {

class SeqPacketSocket : public Socket {
 public:
  SeqPacketSocket() = default;
  explicit SeqPacketSocket(Fd fd) noexcept : Socket(std::move(fd), Transport::unix_seqpacket) {}

  // Sends one record, whole or not at all.
  [[nodiscard]] Status send(std::span<const std::byte> record, Deadline deadline = {});
  // Receives one record; returns its size, or 0 when the peer has closed.
  [[nodiscard]] Result<std::size_t> recv(std::span<std::byte> buffer, Deadline deadline = {});
  // The size of the next record without consuming it (waits for one).
  [[nodiscard]] Result<std::size_t> next_message_size(Deadline deadline = {});
};

}  // namespace sockit
