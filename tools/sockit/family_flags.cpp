#include "family_flags.hpp"

#include <arpa/inet.h>
#include <fmt/core.h>

namespace sockit::cli {
namespace {

// The family of an IP literal host, or AF_UNSPEC for a name (or no host). A host
// with a ':' can only be an IPv6 literal (possibly with a %zone): names have none.
int literal_family(const std::string& host) {
  if (host.find(':') != std::string::npos) return AF_INET6;
  in_addr v4{};
  if (::inet_pton(AF_INET, host.c_str(), &v4) == 1) return AF_INET;
  return AF_UNSPEC;
}

}  // namespace

void add_family_flags(CLI::App& command, FamilyArgs& into, FamilyRole role) {
  const char* v4_help = "Bind the IPv4 address of a host name that has both (no host: 127.0.0.1)";
  const char* v6_help = "Bind the IPv6 address of a host name that has both (no host: ::1)";
  if (role == FamilyRole::client) {
    v4_help = "Use only the IPv4 addresses of a host name";
    v6_help = "Use only the IPv6 addresses of a host name";
  } else if (role == FamilyRole::relay) {
    v4_help = "FROM and TO: the IPv4 address of a host name that has both (no host: 127.0.0.1)";
    v6_help = "FROM and TO: the IPv6 address of a host name that has both (no host: ::1)";
  }
  auto* v4 = command.add_flag("-4", into.ipv4, v4_help);
  auto* v6 = command.add_flag("-6", into.ipv6, v6_help);
  v4->excludes(v6);
}

std::string family_misuse(const FamilyArgs& args, const Address& address) {
  if (!args.given()) return {};
  if (address.is_unix()) return fmt::format("{} applies to tcp:// and udp:// addresses", args.flag());
  const int literal = literal_family(address.host());
  if (literal != AF_UNSPEC && literal != args.family()) {
    return fmt::format(
        "{} asks for {} but {} is an {} address ({} chooses among the addresses of a host name)", args.flag(),
        args.ipv4 ? "IPv4" : "IPv6", address.host(), literal == AF_INET ? "IPv4" : "IPv6", args.flag());
  }
  return {};
}

}  // namespace sockit::cli
