// relay_datagrams(): `sockit listen` on a datagram address. Every datagram that
// arrives is written to stdout; stdin is sent to whoever sent last.
//
// Before anyone has sent, stdin is held (up to kHighWaterBytes, then stdin is no
// longer read) so `echo hi | sockit listen udp://:9000` answers the first client.
// Each stdin read is one datagram. There is no end of stream on a datagram socket,
// so the relay runs until a signal arrives (or stdout is closed, or a timer of
// `options` ends it: --idle-timeout with no datagram either way, --quit-after
// counted from the end of stdin); the end of stdin only stops sending. --hex
// dumps each datagram, offsets counted per direction across datagrams.
#pragma once

#include <expected>

#include "pump.hpp"
#include "sockit/datagram_socket.hpp"

namespace sockit::cli {

[[nodiscard]] PumpResult relay_datagrams(DatagramSocket& socket, const SessionOptions& options, int signal_fd);

}  // namespace sockit::cli
