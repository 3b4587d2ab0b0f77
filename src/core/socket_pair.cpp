#include "sockit/socket_pair.hpp"

#include "sys/syscalls.hpp"

namespace sockit {

Result<std::pair<StreamSocket, StreamSocket>> stream_socket_pair() {
  auto fds = sys::socketpair(SOCK_STREAM);
  if (!fds) return fail(fds.error());
  return std::pair(StreamSocket(std::move(fds->first), Transport::unix_stream),
                   StreamSocket(std::move(fds->second), Transport::unix_stream));
}

Result<std::pair<DatagramSocket, DatagramSocket>> datagram_socket_pair() {
  auto fds = sys::socketpair(SOCK_DGRAM);
  if (!fds) return fail(fds.error());
  return std::pair(DatagramSocket(std::move(fds->first), Transport::unix_dgram),
                   DatagramSocket(std::move(fds->second), Transport::unix_dgram));
}

Result<std::pair<SeqPacketSocket, SeqPacketSocket>> seqpacket_socket_pair() {
  auto fds = sys::socketpair(SOCK_SEQPACKET);
  if (!fds) return fail(fds.error());
  return std::pair(SeqPacketSocket(std::move(fds->first)), SeqPacketSocket(std::move(fds->second)));
}

}  // namespace sockit
