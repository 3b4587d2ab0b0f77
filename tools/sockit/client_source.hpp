// -4, -6 and --bind: a client's choice of its own side of the connection, for the
// commands that connect (connect, probe). They fill the library's ConnectOptions.
//
// All three mean something for IP addresses only; given with a Unix address they
// are a usage error, not silently ignored.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "sockit/address.hpp"
#include "sockit/connect_options.hpp"
#include "family_flags.hpp"

namespace sockit::cli {

struct ClientSourceArgs {
  FamilyArgs family;  // -4/-6: add_family_flags(command, into.family, FamilyRole::client)
  std::string bind;  // as written; empty: not given
  CLI::Option* bind_option = nullptr;
};

// --bind ADDR.
void add_bind_option(CLI::App& command, ClientSourceArgs& into);

// The ConnectOptions for `address`, or nullopt after printing a usage error
// ("sockit: connect unix:/x: -4 applies to tcp:// and udp:// addresses"). An IP
// literal of the other family is left to the library (errc::no_address_of_family,
// a runtime error), as it was before the servers had -4/-6.
[[nodiscard]] std::optional<ConnectOptions> client_connect_options(std::string_view command,
                                                                   std::string_view address_text,
                                                                   const Address& address,
                                                                   const ClientSourceArgs& args);

}  // namespace sockit::cli
