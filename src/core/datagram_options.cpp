// DatagramSocket: the UDP options (broadcast and multicast). The rest of the class
// is in datagram_socket.cpp.
//
// IPv4 and IPv6 spell the multicast options differently; the socket's own family
// (SO_DOMAIN) picks the spelling, so one call works on either kind of socket. On a
// Unix datagram socket the kernel's error comes back unchanged.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <string>

#include "sockit/datagram_socket.hpp"
#include "sys/syscalls.hpp"

namespace sockit {
namespace {

struct OptionName {
  int level;
  int name;
};

// IPv4 spelling for every family but AF_INET6, so that a Unix socket gets the
// kernel's answer to an IP-level option rather than one made up here.
Result<OptionName> by_family(int fd, OptionName v4, OptionName v6) {
  auto family = sys::get_option<int>(fd, SOL_SOCKET, SO_DOMAIN);
  if (!family) return fail(family.error());
  return *family == AF_INET6 ? v6 : v4;
}

// int for both families: IP_MULTICAST_TTL/LOOP also take a u_char, but the IPv6
// options take only int, and one type keeps the two paths alike.
Status set_int(int fd, OptionName v4, OptionName v6, int value) {
  auto option = by_family(fd, v4, v6);
  if (!option) return fail(option.error());
  return sys::set_option(fd, option->level, option->name, value);
}

Result<int> get_int(int fd, OptionName v4, OptionName v6) {
  auto option = by_family(fd, v4, v6);
  if (!option) return fail(option.error());
  return sys::get_option<int>(fd, option->level, option->name);
}

constexpr OptionName kTtl4{IPPROTO_IP, IP_MULTICAST_TTL};
constexpr OptionName kTtl6{IPPROTO_IPV6, IPV6_MULTICAST_HOPS};
constexpr OptionName kLoop4{IPPROTO_IP, IP_MULTICAST_LOOP};
constexpr OptionName kLoop6{IPPROTO_IPV6, IPV6_MULTICAST_LOOP};

// The group's own family decides the request, not the socket's: the kernel then
// reports a mismatch (e.g. an IPv6 group on an IPv4 socket) in its own words.
Status membership(int fd, std::string_view group, unsigned interface_index, bool join) {
  // inet_pton needs a C string; a NUL inside `group` would cut it short and make a
  // malformed group look valid, so it is refused before the copy.
  if (group.empty() || group.size() >= INET6_ADDRSTRLEN || group.find('\0') != std::string_view::npos) {
    return fail(errc::address_bad_host);
  }
  const std::string text(group);
  if (ip_mreqn v4{}; ::inet_pton(AF_INET, text.c_str(), &v4.imr_multiaddr) == 1) {
    v4.imr_address.s_addr = htonl(INADDR_ANY);
    v4.imr_ifindex = static_cast<int>(interface_index);
    return sys::set_option(fd, IPPROTO_IP, join ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP, v4);
  }
  if (ipv6_mreq v6{}; ::inet_pton(AF_INET6, text.c_str(), &v6.ipv6mr_multiaddr) == 1) {
    v6.ipv6mr_interface = interface_index;
    return sys::set_option(fd, IPPROTO_IPV6, join ? IPV6_ADD_MEMBERSHIP : IPV6_DROP_MEMBERSHIP, v6);
  }
  return fail(errc::address_bad_host);
}

}  // namespace

Status DatagramSocket::set_broadcast(bool on) {
  return sys::set_option(native_handle(), SOL_SOCKET, SO_BROADCAST, on ? 1 : 0);
}

Result<bool> DatagramSocket::broadcast() const {
  auto v = sys::get_option<int>(native_handle(), SOL_SOCKET, SO_BROADCAST);
  if (!v) return fail(v.error());
  return *v != 0;
}

Status DatagramSocket::join_multicast(std::string_view group, unsigned interface_index) {
  return membership(native_handle(), group, interface_index, true);
}

Status DatagramSocket::leave_multicast(std::string_view group, unsigned interface_index) {
  return membership(native_handle(), group, interface_index, false);
}

Status DatagramSocket::set_multicast_ttl(int hops) { return set_int(native_handle(), kTtl4, kTtl6, hops); }
Result<int> DatagramSocket::multicast_ttl() const { return get_int(native_handle(), kTtl4, kTtl6); }

Status DatagramSocket::set_multicast_loopback(bool on) {
  return set_int(native_handle(), kLoop4, kLoop6, on ? 1 : 0);
}

Result<bool> DatagramSocket::multicast_loopback() const {
  auto v = get_int(native_handle(), kLoop4, kLoop6);
  if (!v) return fail(v.error());
  return *v != 0;
}

}  // namespace sockit
