// socket_pair(): two connected Unix sockets (socketpair(2) with SOCK_CLOEXEC),
// for talking to a forked child or between threads.
#pragma once

#include <utility>

#include "sockit/datagram_socket.hpp"
#include "sockit/seqpacket_socket.hpp"
#include "sockit/stream_socket.hpp"

namespace sockit {

[[nodiscard]] Result<std::pair<StreamSocket, StreamSocket>> stream_socket_pair();
[[nodiscard]] Result<std::pair<DatagramSocket, DatagramSocket>> datagram_socket_pair();
[[nodiscard]] Result<std::pair<SeqPacketSocket, SeqPacketSocket>> seqpacket_socket_pair();

}  // namespace sockit
