// Address: where a socket lives, written as one string.
//
//   unix:PATH  unix:///abs/path  ipc://PATH          Unix stream socket at a path
//                                    (ipc:// as ZeroMQ: ipc:///abs, ipc://rel, ipc://@name)
//   unix:@NAME  unix-abstract:NAME                   Unix stream socket, abstract namespace
//   unix-dgram:…  unix-seqpacket:…                   same path forms, other socket types
//   tcp://HOST:PORT  tcp://[v6]:PORT  tcp://:PORT    TCP (no host = loopback, never "any")
//   udp://HOST:PORT  udp://[v6]:PORT  udp://:PORT    UDP
//
// parse() is pure: it validates syntax (path length, port range, IPv6 literal,
// embedded NUL, ...) and never touches the network. resolve() turns a host name
// into socket addresses (getaddrinfo); connect tries every result in order.
//
// to_string() gives the canonical spelling ("unix:@x" for an abstract name, "unix:PATH"
// for ipc:// and unix:// paths), and parse(a.to_string()) == a for every address.
// A canonical string round-trips exactly: parse(s)->to_string() == s.
//
// Thread safety: a value type.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sockit/result.hpp"

namespace sockit {

enum class Transport : std::uint8_t { unix_stream, unix_dgram, unix_seqpacket, tcp, udp };

// The largest Unix path we accept: sun_path is 108 bytes and we always keep a
// terminating NUL, so peers that read it as a C string never overrun.
inline constexpr std::size_t kMaxUnixPathLength = 107;
// Abstract names use sun_path[1..107]; no terminator is needed.
inline constexpr std::size_t kMaxAbstractNameLength = 107;

// A concrete kernel address (sockaddr_un / sockaddr_in / sockaddr_in6).
struct Endpoint {
  sockaddr_storage storage{};
  socklen_t length = 0;

  [[nodiscard]] const sockaddr* get() const noexcept {
    return reinterpret_cast<const sockaddr*>(&storage);
  }
  [[nodiscard]] sockaddr* get() noexcept { return reinterpret_cast<sockaddr*>(&storage); }
  [[nodiscard]] int family() const noexcept { return storage.ss_family; }
};

class Address {
 public:
  [[nodiscard]] static Result<Address> parse(std::string_view text);
  // Builds an Address from what the kernel reports (getsockname, recvfrom, accept).
  // Unix sockets without a name (socketpair, unbound clients) give an unnamed address.
  [[nodiscard]] static Address from_endpoint(const Endpoint& endpoint, Transport transport);

  [[nodiscard]] std::string to_string() const;

  [[nodiscard]] Transport transport() const noexcept { return transport_; }
  [[nodiscard]] bool is_unix() const noexcept;
  [[nodiscard]] bool is_inet() const noexcept { return !is_unix(); }
  [[nodiscard]] bool is_abstract() const noexcept { return abstract_; }
  [[nodiscard]] bool is_unnamed() const noexcept { return is_unix() && path_.empty(); }
  // The filesystem path, or the abstract name without its leading '@'.
  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  // The host as written (no brackets); empty means loopback.
  [[nodiscard]] const std::string& host() const noexcept { return host_; }
  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  // The socket type for socket(2): SOCK_STREAM, SOCK_DGRAM or SOCK_SEQPACKET.
  [[nodiscard]] int socket_type() const noexcept;
  [[nodiscard]] bool is_stream() const noexcept { return socket_type() == SOCK_STREAM; }
  [[nodiscard]] bool is_datagram() const noexcept { return socket_type() == SOCK_DGRAM; }

  // Kernel addresses for this address: one for Unix, one per getaddrinfo result
  // for IP (in getaddrinfo's order). An empty host resolves to 127.0.0.1.
  [[nodiscard]] Result<std::vector<Endpoint>> resolve() const;
  // Only the endpoints of `family`: AF_INET or AF_INET6 (-4/-6 of a client or a
  // server), or AF_UNSPEC for all. An empty host is that family's loopback
  // (127.0.0.1 or ::1). An IP address with none of that family is
  // errc::no_address_of_family; a Unix address takes only AF_UNSPEC (invalid_argument).
  [[nodiscard]] Result<std::vector<Endpoint>> resolve(int family) const;

  // The same address with another port (for reporting an ephemeral port).
  [[nodiscard]] Address with_port(std::uint16_t port) const;

  friend bool operator==(const Address&, const Address&) = default;

 private:
  Transport transport_ = Transport::unix_stream;
  bool abstract_ = false;
  std::string path_;
  std::string host_;
  std::uint16_t port_ = 0;
};

}  // namespace sockit
