// The client's own side of a connect (internal; used by connect() and
// DatagramSocket::connect()): which of the server's endpoints to try (-4/-6) and
// the local address to bind before connecting. See ConnectOptions.
#pragma once

#include <vector>

#include "sockit/address.hpp"
#include "sockit/connect_options.hpp"
#include "sockit/result.hpp"

namespace sockit::detail {

// The server's endpoints of options.family, after checking that family and
// local_address make sense for `address` (IP only, same transport as the server).
Result<std::vector<Endpoint>> client_endpoints(const Address& address, const ConnectOptions& options);

// Binds `fd`, a fresh socket of `family`, to options.local_address's endpoint of
// that family; does nothing without a local address.
Status bind_local(int fd, int family, const ConnectOptions& options);

}  // namespace sockit::detail
