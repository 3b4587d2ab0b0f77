// ConnectOptions: how a client socket is made before it connects (connect(),
// connect_seqpacket(), DatagramSocket::connect()).
//
// `family` and `local_address` are the client's choice of its own side: which
// family a name that resolves to both IPv4 and IPv6 ("localhost") may use (nc -4/-6),
// and which local address and port the connection comes from (nc -s, socat bind=).
// The TCP-only fields make no sense elsewhere: given to a Unix or datagram connect
// they are errc::invalid_argument rather than silently ignored.
//
// Thread safety: a value type.
#pragma once

#include <sys/socket.h>

#include <optional>
#include <string>

#include "sockit/address.hpp"

namespace sockit {

struct ConnectOptions {
  // TCP Fast Open: these bytes are sent with the SYN when the kernel holds a
  // cookie for the server (the first connection to a server only fetches one).
  // Whatever did not fit in the SYN is sent right after the handshake, so the
  // caller may rely on all of it having been sent when connect returns.
  std::string fast_open_data;
  bool no_delay = false;  // TCP: set TCP_NODELAY before connecting
  // IP only: AF_INET or AF_INET6 tries only the server's addresses of that family;
  // AF_UNSPEC (the default) tries them all in getaddrinfo's order.
  int family = AF_UNSPEC;
  // IP only: bind the client here before connecting (same transport as the server's
  // address; port 0 = an ephemeral port). A name is resolved and the address of the
  // family being tried is used; endpoints of a family it has none of are skipped.
  std::optional<Address> local_address{};
};

}  // namespace sockit
