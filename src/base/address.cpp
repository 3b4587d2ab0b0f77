// Address as a value: parse, to_string and from_endpoint, which read and write
// bytes and never ask the system anything. resolve(), which asks getaddrinfo and
// the kernel, is core's (src/core/address_resolve.cpp): this file is in the base
// layer, below sys (see docs/ARCHITECTURE.md).
#include "sockit/address.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <algorithm>
#include <cassert>
#include <cstring>

#include "address_parse.hpp"
#include "sockaddr_copy.hpp"

namespace sockit {
namespace {

using detail::kSunPathOffset;
using detail::read_sockaddr;

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

// Unix addresses have no port; they keep port 0 so that equality is unaffected.
Address Address::with_port(std::uint16_t port) const {
  Address copy = *this;
  if (is_inet()) copy.port_ = port;
  return copy;
}

}  // namespace sockit
