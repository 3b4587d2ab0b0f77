// Socket: addresses and shutdown. The options live in socket_options.cpp.
#include "sockit/socket.hpp"

#include <sys/socket.h>

#include "sys/syscalls.hpp"

namespace sockit {

Result<Address> Socket::local_address() const {
  auto e = sys::local_endpoint(native_handle());
  if (!e) return fail(e.error());
  return Address::from_endpoint(*e, transport_);
}

Result<Address> Socket::peer_address() const {
  auto e = sys::peer_endpoint(native_handle());
  if (!e) return fail(e.error());
  return Address::from_endpoint(*e, transport_);
}

Status Socket::shutdown(ShutdownHow how) {
  const int native = how == ShutdownHow::read ? SHUT_RD : how == ShutdownHow::write ? SHUT_WR : SHUT_RDWR;
  return sys::shutdown(native_handle(), native);
}

}  // namespace sockit
