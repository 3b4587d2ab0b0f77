// Endpoint to and from sockaddr_in / sockaddr_in6 / sockaddr_un (internal; used
// by base/address.cpp and core/address_resolve.cpp).
//
// Every sockaddr goes in and out of Endpoint::storage by memcpy, so no code reads
// one sockaddr type through a pointer to another.
//
// Thread safety: pure functions; any thread.
#pragma once

#include <sys/socket.h>
#include <sys/un.h>

#include <cstddef>
#include <cstring>

#include "sockit/address.hpp"

namespace sockit::detail {

inline constexpr std::size_t kSunPathOffset = offsetof(sockaddr_un, sun_path);

template <typename Sockaddr>
Endpoint make_endpoint(const Sockaddr& address, std::size_t length) {
  static_assert(sizeof(Sockaddr) <= sizeof(sockaddr_storage));
  Endpoint endpoint;
  std::memcpy(&endpoint.storage, &address, sizeof address);
  endpoint.length = static_cast<socklen_t>(length);
  return endpoint;
}

template <typename Sockaddr>
Sockaddr read_sockaddr(const Endpoint& endpoint) {
  Sockaddr address{};
  std::memcpy(&address, &endpoint.storage, sizeof address);
  return address;
}

}  // namespace sockit::detail
