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

namespace sockit::cli {

struct ClientSourceArgs {
  bool ipv4 = false;
  bool ipv6 = false;
  std::string bind;  // as written; empty: not given
  CLI::Option* bind_option = nullptr;
};

// -4/-6 (they exclude each other).
void add_family_flags(CLI::App& command, ClientSourceArgs& into);
// --bind ADDR.
void add_bind_option(CLI::App& command, ClientSourceArgs& into);

// The ConnectOptions for `address`, or nullopt after printing a usage error
// ("sockit: connect unix:/x: -4 applies to tcp:// and udp:// addresses").
[[nodiscard]] std::optional<ConnectOptions> client_connect_options(std::string_view command,
                                                                   std::string_view address_text,
                                                                   const Address& address,
                                                                   const ClientSourceArgs& args);

}  // namespace sockit::cli
