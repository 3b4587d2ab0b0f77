#include "sockit/address.hpp"

#include <arpa/inet.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cstddef>
#include <cstring>
#include <memory>

#include "core/address_parse.hpp"
#include "sys/error.hpp"

namespace sockit {
namespace {

constexpr std::size_t kSunPathOffset = offsetof(sockaddr_un, sun_path);

bool is_unix_transport(Transport transport) {
  return transport == Transport::unix_stream || transport == Transport::unix_dgram ||
         transport == Transport::unix_seqpacket;
}

std::string_view scheme_prefix(Transport transport) {
  switch (transport) {
    case Transport::unix_stream:
      return "unix:";
    case Transport::unix_dgram:
      return "unix-dgram:";
    case Transport::unix_seqpacket:
      return "unix-seqpacket:";
    case Transport::tcp:
      return "tcp://";
    case Transport::udp:
      return "udp://";
  }
  return "unix:";
}

// Every sockaddr goes in and out of Endpoint::storage by memcpy, so no code here
// reads one sockaddr type through a pointer to another.
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

// ---- from_endpoint --------------------------------------------------------

struct UnixName {
  bool abstract = false;
  std::string path;  // empty: unnamed
};

// A path that the short spelling would misread (an '@' looks abstract, the unnamed
// marker is refused) gets "./": the same file, and to_string() can write it back.
std::string spellable_path(std::string path) {
  if (path.starts_with('@') || path == detail::kUnnamedMarker) path.insert(0, "./");
  return path;
}

UnixName read_unix_name(const Endpoint& endpoint) {
  // socketpair ends and unbound clients report only the family (or nothing).
  if (endpoint.length <= sizeof(sa_family_t)) return {};
  const auto un = read_sockaddr<sockaddr_un>(endpoint);
  const std::size_t bytes = std::min<std::size_t>(endpoint.length - kSunPathOffset, sizeof un.sun_path);
  if (un.sun_path[0] == '\0') {
    // Abstract names are length-bounded bytes: NULs inside are part of the name.
    // An empty abstract name cannot be written back, so it reads as unnamed.
    if (bytes <= 1) return {};
    return {true, std::string(un.sun_path + 1, bytes - 1)};
  }
  // The kernel stops a path at its first NUL, whatever the length says; so do we.
  return {false, spellable_path(std::string(un.sun_path, ::strnlen(un.sun_path, bytes)))};
}

// inet_ntop's text, plus "%index" when the kernel reports a scope (link-local
// peers): without it the address could not be dialled back. The index rather than
// the interface name, because if_indextoname would cost a socket and a syscall.
std::string read_inet_host(const Endpoint& endpoint, std::uint16_t& port) {
  char text[INET6_ADDRSTRLEN] = {};
  if (endpoint.family() == AF_INET) {
    const auto in = read_sockaddr<sockaddr_in>(endpoint);
    ::inet_ntop(AF_INET, &in.sin_addr, text, sizeof text);
    port = ntohs(in.sin_port);
    return text;
  }
  if (endpoint.family() == AF_INET6) {
    const auto in6 = read_sockaddr<sockaddr_in6>(endpoint);
    ::inet_ntop(AF_INET6, &in6.sin6_addr, text, sizeof text);  // v4-mapped stays "::ffff:a.b.c.d"
    port = ntohs(in6.sin6_port);
    std::string host = text;
    if (in6.sin6_scope_id != 0) host += "%" + std::to_string(in6.sin6_scope_id);
    return host;
  }
  port = 0;
  return {};
}

// ---- resolve --------------------------------------------------------------

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

Result<Address> Address::parse(std::string_view text) {
  auto parts = detail::parse_address(text);
  if (!parts) return fail(parts.error());
  Address address;
  address.transport_ = parts->transport;
  address.abstract_ = parts->abstract;
  address.path_ = std::move(parts->path);
  address.host_ = std::move(parts->host);
  address.port_ = parts->port;
  return address;
}

// Not every kernel address has a spelling that parses back; these are the
// exceptions to parse(a.to_string()) == a: an unnamed socket, an abstract name with
// a NUL in it, and a path that fills sun_path without a terminator (108 bytes).
Address Address::from_endpoint(const Endpoint& endpoint, Transport transport) {
  Address address;
  address.transport_ = transport;
  if (is_unix_transport(transport)) {
    assert(endpoint.length <= sizeof(sa_family_t) || endpoint.family() == AF_UNIX);
    auto name = read_unix_name(endpoint);
    address.abstract_ = name.abstract;
    address.path_ = std::move(name.path);
  } else {
    assert(endpoint.family() == AF_INET || endpoint.family() == AF_INET6);
    address.host_ = read_inet_host(endpoint, address.port_);
  }
  return address;
}

std::string Address::to_string() const {
  std::string text(scheme_prefix(transport_));
  if (is_unix()) {
    if (is_unnamed()) {
      text += detail::kUnnamedMarker;
    } else if (abstract_) {
      text += '@';
      text += path_;
    } else {
      // "unix://x" would be read as the URL form, so "//x" is written "unix:////x".
      if (path_.starts_with("//")) text += "//";
      text += path_;
    }
    return text;
  }
  const bool bracket = host_.find(':') != std::string::npos;
  if (bracket) text += '[';
  text += host_;
  if (bracket) text += ']';
  text += ':';
  text += std::to_string(port_);
  return text;
}

bool Address::is_unix() const noexcept { return is_unix_transport(transport_); }

int Address::socket_type() const noexcept {
  switch (transport_) {
    case Transport::unix_stream:
    case Transport::tcp:
      return SOCK_STREAM;
    case Transport::unix_dgram:
    case Transport::udp:
      return SOCK_DGRAM;
    case Transport::unix_seqpacket:
      return SOCK_SEQPACKET;
  }
  return SOCK_STREAM;
}

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

// Unix addresses have no port; they keep port 0 so that equality is unaffected.
Address Address::with_port(std::uint16_t port) const {
  Address copy = *this;
  if (is_inet()) copy.port_ = port;
  return copy;
}

}  // namespace sockit
