// connect(): a connected stream socket to a tcp:// or unix: address, by a deadline.
//
// The connect is non-blocking underneath (connect, then poll for writability), so
// the deadline holds for TCP and Unix alike, and EINTR cannot leave a half-made
// connection behind. A host name is resolved and every address is tried in order
// until one connects; the error of the last attempt is returned. The returned
// socket is blocking (use set_non_blocking for an event loop).
#pragma once

#include "sockit/address.hpp"
#include "sockit/connect_options.hpp"
#include "sockit/deadline.hpp"
#include "sockit/seqpacket_socket.hpp"
#include "sockit/stream_socket.hpp"

namespace sockit {

[[nodiscard]] Result<StreamSocket> connect(const Address& address, Deadline deadline = {},
                                           const ConnectOptions& options = {});
[[nodiscard]] Result<SeqPacketSocket> connect_seqpacket(const Address& address, Deadline deadline = {});

}  // namespace sockit
