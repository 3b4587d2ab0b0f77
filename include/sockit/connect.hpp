// connect(): a connected stream socket to a tcp:// or unix: address, by a deadline.
//
// The connect is non-blocking underneath (connect, then poll for writability), so
// the deadline holds for TCP and Unix alike, and EINTR cannot leave a half-made
// connection behind. A host name is resolved and every address is tried in order
// until one connects; the error of the last attempt is returned. The returned
// socket is blocking (use set_non_blocking for an event loop).
#pragma once

#include <string>

#include "sockit/address.hpp"
#include "sockit/deadline.hpp"
#include "sockit/seqpacket_socket.hpp"
#include "sockit/stream_socket.hpp"

namespace sockit {

struct ConnectOptions {
  // TCP Fast Open: these bytes are sent with the SYN when the kernel holds a
  // cookie for the server (the first connection to a server only fetches one).
  // Whatever did not fit in the SYN is sent right after the handshake, so the
  // caller may rely on all of it having been sent when connect returns.
  std::string fast_open_data;
  bool no_delay = false;  // TCP: set TCP_NODELAY before connecting
};

[[nodiscard]] Result<StreamSocket> connect(const Address& address, Deadline deadline = {},
                                           const ConnectOptions& options = {});
[[nodiscard]] Result<SeqPacketSocket> connect_seqpacket(const Address& address, Deadline deadline = {});

}  // namespace sockit
