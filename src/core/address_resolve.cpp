// Address::resolve: the part of Address that asks the system (getaddrinfo for
// names, if_nametoindex for an IPv6 zone) and reads errno through sys. It is
// core's, not base's: the rest of Address (src/base/address.cpp) is a value.
#include <arpa/inet.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <charconv>
#include <cstring>
#include <memory>
#include <vector>

#include "base/address_parse.hpp"
#include "base/sockaddr_copy.hpp"
#include "sockit/address.hpp"
#include "sys/error.hpp"

namespace sockit {
namespace {

using detail::kSunPathOffset;
using detail::make_endpoint;
using detail::read_sockaddr;

Result<Endpoint> unix_endpoint(bool abstract, const std::string& path) {
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  if (abstract) {
    if (path.size() > kMaxAbstractNameLength) return fail(errc::address_path_too_long);
    std::memcpy(un.sun_path + 1, path.data(), path.size());  // sun_path[0] stays NUL
    return make_endpoint(un, kSunPathOffset + 1 + path.size());
  }
  // from_endpoint can hold a 108-byte path that a peer bound without a terminator.
  if (path.size() > kMaxUnixPathLength) return fail(errc::address_path_too_long);
  std::memcpy(un.sun_path, path.data(), path.size());
  return make_endpoint(un, kSunPathOffset + path.size() + 1);
}

Endpoint ipv4_endpoint(const in_addr& address, std::uint16_t port) {
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_addr = address;
  in.sin_port = htons(port);
  return make_endpoint(in, sizeof in);
}

Endpoint ipv6_endpoint(const in6_addr& address, std::uint32_t scope_id, std::uint16_t port) {
  sockaddr_in6 in6{};
  in6.sin6_family = AF_INET6;
  in6.sin6_addr = address;
  in6.sin6_scope_id = scope_id;
  in6.sin6_port = htons(port);
  return make_endpoint(in6, sizeof in6);
}

// A zone is an interface index ("%2") or name ("%eth0"). A name that is not an
// interface here is a name that does not resolve.
Result<std::uint32_t> scope_id(std::string_view zone) {
  std::uint32_t index = 0;
  const auto [end, ec] = std::from_chars(zone.data(), zone.data() + zone.size(), index);
  if (ec == std::errc{} && end == zone.data() + zone.size()) return index;
  index = ::if_nametoindex(std::string(zone).c_str());
  if (index == 0) return fail(errc::name_not_resolved);
  return index;
}

void set_port(Endpoint& endpoint, std::uint16_t port) {
  if (endpoint.family() == AF_INET) {
    auto in = read_sockaddr<sockaddr_in>(endpoint);
    in.sin_port = htons(port);
    std::memcpy(&endpoint.storage, &in, sizeof in);
  } else if (endpoint.family() == AF_INET6) {
    auto in6 = read_sockaddr<sockaddr_in6>(endpoint);
    in6.sin6_port = htons(port);
    std::memcpy(&endpoint.storage, &in6, sizeof in6);
  }
}

// getaddrinfo for a host name, results in its order (RFC 6724 sorting), so a
// connect that walks them prefers what the system prefers. No AI_ADDRCONFIG:
// glibc does not count loopback as "configured", so on a machine whose only
// interface is lo (containers, CI sandboxes) it would make "localhost" vanish.
Result<std::vector<Endpoint>> resolve_name(const std::string& host, std::uint16_t port, int socket_type) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = socket_type;
  addrinfo* list = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &list);
  if (rc == EAI_SYSTEM) {
    const auto ec = sys::last_error();
    return fail(ec ? ec : make_error_code(errc::name_not_resolved));
  }
  if (rc != 0) return fail(errc::name_not_resolved);
  const std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owner(list, &::freeaddrinfo);

  std::vector<Endpoint> endpoints;
  for (const addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
    if (ai->ai_addrlen > sizeof(sockaddr_storage)) continue;
    Endpoint endpoint;
    std::memcpy(&endpoint.storage, ai->ai_addr, ai->ai_addrlen);
    endpoint.length = ai->ai_addrlen;
    set_port(endpoint, port);
    endpoints.push_back(endpoint);
  }
  if (endpoints.empty()) return fail(errc::name_not_resolved);
  return endpoints;
}

// Literals never reach getaddrinfo: they cannot fail to resolve, and skipping it
// keeps resolve() of "tcp://127.0.0.1:80" free of NSS and its file reads.
Result<std::vector<Endpoint>> resolve_inet(const std::string& host, std::uint16_t port, int socket_type) {
  if (host.empty()) return std::vector{ipv4_endpoint(in_addr{htonl(INADDR_LOOPBACK)}, port)};
  in_addr v4{};
  if (::inet_pton(AF_INET, host.c_str(), &v4) == 1) return std::vector{ipv4_endpoint(v4, port)};
  const auto [literal, zone] = detail::split_zone(host);
  in6_addr v6{};
  if (::inet_pton(AF_INET6, std::string(literal).c_str(), &v6) == 1) {
    std::uint32_t scope = 0;
    if (!zone.empty()) {
      auto id = scope_id(zone);
      if (!id) return fail(id.error());
      scope = *id;
    }
    return std::vector{ipv6_endpoint(v6, scope, port)};
  }
  return resolve_name(host, port, socket_type);
}

}  // namespace

Result<std::vector<Endpoint>> Address::resolve() const {
  if (is_unix()) {
    // An unnamed address names no socket: binding to it would mean autobind,
    // connecting to it means nothing.
    if (is_unnamed()) return fail(errc::address_invalid);
    auto endpoint = unix_endpoint(abstract_, path_);
    if (!endpoint) return fail(endpoint.error());
    return std::vector{*endpoint};
  }
  return resolve_inet(host_, port_, socket_type());
}

Result<std::vector<Endpoint>> Address::resolve(int family) const {
  if (family == AF_UNSPEC) return resolve();
  if (is_unix() || (family != AF_INET && family != AF_INET6)) return fail(errc::invalid_argument);
  // No host means this host's loopback: with -6 that is ::1, not "no IPv6 address".
  if (host_.empty() && family == AF_INET6) return std::vector{ipv6_endpoint(in6addr_loopback, 0, port_)};
  auto endpoints = resolve();
  if (!endpoints) return fail(endpoints.error());
  std::erase_if(*endpoints, [family](const Endpoint& e) { return e.family() != family; });
  if (endpoints->empty()) return fail(errc::no_address_of_family);
  return endpoints;
}

}  // namespace sockit
