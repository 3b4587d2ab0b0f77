#include "core/client_source.hpp"

#include <netinet/in.h>

#include "sys/syscalls.hpp"

namespace sockit::detail {

Result<std::vector<Endpoint>> client_endpoints(const Address& address, const ConnectOptions& options) {
  if (options.local_address) {
    const Address& local = *options.local_address;
    if (address.is_unix() || local.transport() != address.transport()) return fail(errc::invalid_argument);
  }
  return address.resolve(options.family);  // a Unix address with a family is invalid_argument there
}

Status bind_local(int fd, int family, const ConnectOptions& options) {
  if (!options.local_address) return {};
  const Address& local = *options.local_address;
  auto endpoints = local.resolve(family);
  if (!endpoints) return fail(endpoints.error());
  // Port 0 on TCP: let connect() choose the port together with the destination, so
  // binding the source address does not use up an ephemeral port per address
  // (without this, bind() must pick a port unique for every destination).
  if (local.port() == 0 && local.transport() == Transport::tcp) {
    if (auto s = sys::set_option(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1); !s) return s;
  }
  return sys::bind(fd, endpoints->front());
}

}  // namespace sockit::detail
