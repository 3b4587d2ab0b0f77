// Address parsing: Address::parse on arbitrary text, and Address::from_endpoint on
// arbitrary kernel-style socket addresses (what recvfrom/accept report for a peer
// we do not control). Checked beyond "no crash, no sanitizer report":
//  - a parsed address's canonical string parses back to an equal address, and is
//    itself canonical (parse(s)->to_string() == s), as address.hpp promises;
//  - a Unix path or abstract name stays within sun_path's bound;
//  - a Unix address (resolve() is pure for Unix: no network) resolves to an
//    endpoint that from_endpoint turns back into the same address.
// Input: first byte selects the mode, the rest is the text or the sockaddr bytes.
#include <netinet/in.h>
#include <sys/un.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "sockit/address.hpp"

namespace {

void check(bool condition) {
  if (!condition) std::abort();
}

void check_round_trip(const sockit::Address& address) {
  const std::string canonical = address.to_string();
  auto again = sockit::Address::parse(canonical);
  check(again.has_value());
  check(*again == address);
  check(again->to_string() == canonical);
  if (address.is_unix()) {
    check(address.path().size() <= sockit::kMaxUnixPathLength);
    check(address.path().find('\0') == std::string::npos);
  }
}

void fuzz_parse(std::string_view text) {
  auto address = sockit::Address::parse(text);
  if (!address) return;
  check_round_trip(*address);
  if (address->is_unix() && !address->is_unnamed()) {
    auto endpoints = address->resolve();
    check(endpoints.has_value() && endpoints->size() == 1);
    const sockit::Address back = sockit::Address::from_endpoint(endpoints->front(), address->transport());
    check(back == *address);
  }
}

// A socket address as the kernel could report it for a socket of `transport`:
// the family matches the socket (from_endpoint's precondition), the length and
// the bytes are anything (a Unix peer's abstract name is any bytes, of any
// length). Whatever from_endpoint makes of it must print, and it must parse back
// except in the cases address.cpp documents: an unnamed socket, an abstract name
// holding a NUL, a path that fills sun_path without a terminator.
void fuzz_from_endpoint(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return;
  const auto transport = static_cast<sockit::Transport>(data[0] % 5);
  const bool ipv6 = (data[0] & 0x80) != 0;
  ++data;
  --size;
  sockit::Endpoint endpoint;
  std::memcpy(&endpoint.storage, data, std::min(size, sizeof endpoint.storage));
  sockit::Address address;
  if (transport == sockit::Transport::tcp || transport == sockit::Transport::udp) {
    endpoint.storage.ss_family = ipv6 ? AF_INET6 : AF_INET;
    endpoint.length = ipv6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
    address = sockit::Address::from_endpoint(endpoint, transport);
    check_round_trip(address);
    return;
  }
  endpoint.storage.ss_family = AF_UNIX;
  endpoint.length = static_cast<socklen_t>(std::min(size, sizeof(sockaddr_un)));
  address = sockit::Address::from_endpoint(endpoint, transport);
  const std::string text = address.to_string();
  const bool documented_exception = address.is_unnamed() || address.path().find('\0') != std::string::npos ||
                                    address.path().size() > sockit::kMaxUnixPathLength;
  if (!documented_exception) check_round_trip(address);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  if (data[0] % 2 == 0) {
    fuzz_parse(std::string_view(reinterpret_cast<const char*>(data + 1), size - 1));
  } else {
    fuzz_from_endpoint(data + 1, size - 1);
  }
  return 0;
}
