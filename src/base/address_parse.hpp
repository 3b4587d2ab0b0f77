// The address grammar (internal; used by Address::parse, to_string and resolve).
//
// Kept apart from address.cpp because this is the part whose job is to reject
// every malformed string with the precise errc, without touching the network;
// address.cpp turns addresses into kernel ones and back, and
// core/address_resolve.cpp is the part that talks to getaddrinfo.
//
// Thread safety: pure functions; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "sockit/address.hpp"
#include "sockit/result.hpp"

namespace sockit::detail {

// What to_string() writes for a Unix address without a name. parse() refuses it
// (address_invalid): nothing can bind or connect to an unnamed socket, so reading
// it back as a relative file called "(unnamed)" would silently name another socket.
inline constexpr std::string_view kUnnamedMarker = "(unnamed)";

// The fields of an Address, as parse_address() found them.
struct AddressParts {
  Transport transport = Transport::unix_stream;
  bool abstract = false;
  std::string path;
  std::string host;
  std::uint16_t port = 0;
};

[[nodiscard]] Result<AddressParts> parse_address(std::string_view text);

// "fe80::1%eth0" → {"fe80::1", "eth0"}; without a '%' the zone is empty.
struct HostAndZone {
  std::string_view address;
  std::string_view zone;
};
[[nodiscard]] HostAndZone split_zone(std::string_view host) noexcept;

}  // namespace sockit::detail
