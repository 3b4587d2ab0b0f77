// SeqPacketSocket: one record per send and per receive. The truncation rule and
// the blocking behaviour are shared with DatagramSocket (core/message_io.hpp).
#include "sockit/seqpacket_socket.hpp"

#include "core/message_io.hpp"

namespace sockit {

Status SeqPacketSocket::send(std::span<const std::byte> record, Deadline deadline) {
  return detail::send_message(native_handle(), record, nullptr, deadline);
}

Result<std::size_t> SeqPacketSocket::recv(std::span<std::byte> buffer, Deadline deadline) {
  return detail::recv_message(native_handle(), buffer, nullptr, deadline);
}

Result<std::size_t> SeqPacketSocket::next_message_size(Deadline deadline) {
  return detail::peek_message_size(native_handle(), deadline);
}

}  // namespace sockit
