// -4/-6: which family of a host name that has both IPv4 and IPv6 addresses a
// command uses (nc -4/-6, socat TCP4:/TCP6:). One pair of flags for every command:
// the clients (connect, probe: client_source.hpp) try only that family's
// addresses; the servers (listen, echo, relay) bind that family's address, and an
// empty host is that family's loopback (127.0.0.1 or ::1). The library does the
// choosing (ConnectOptions/ListenOptions/DatagramBindOptions::family).
//
// The flags mean something for IP addresses only: given with a Unix address they
// are a usage error, not silently ignored.
#pragma once

#include <sys/socket.h>

#include <CLI/CLI.hpp>
#include <string>

#include "sockit/address.hpp"

namespace sockit::cli {

struct FamilyArgs {
  bool ipv4 = false;
  bool ipv6 = false;

  [[nodiscard]] bool given() const { return ipv4 || ipv6; }
  [[nodiscard]] const char* flag() const { return ipv4 ? "-4" : "-6"; }
  // AF_INET, AF_INET6, or AF_UNSPEC when neither flag was given.
  [[nodiscard]] int family() const { return ipv4 ? AF_INET : ipv6 ? AF_INET6 : AF_UNSPEC; }
};

// Whose addresses the flags pick, for the help text: a client's server, a server's
// own, or both sides of a relay.
enum class FamilyRole { client, server, relay };

// -4/-6 (they exclude each other).
void add_family_flags(CLI::App& command, FamilyArgs& into, FamilyRole role);

// Why -4/-6 cannot apply to `address`, or empty when they can (or were not given):
// a Unix address, or an IP literal of the other family (-4 with [::1]: there is no
// choice to make, so asking for one is a mistake).
[[nodiscard]] std::string family_misuse(const FamilyArgs& args, const Address& address);

// Help text for the footers of the server commands.
inline constexpr const char* kServerFamilyHelp =
    "-4/-6 bind the IPv4 or IPv6 address of a host name that has both (an empty host:\n"
    "127.0.0.1 or [::1]); a name with none of that family is exit 1, a Unix address or\n"
    "an IP address of the other family exit 2.\n";

}  // namespace sockit::cli
