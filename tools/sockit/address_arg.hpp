// The ADDR argument of every subcommand. A malformed address is a usage error
// (exit 2), reported on one line with sockit's own explanation of what is wrong.
#pragma once

#include <optional>
#include <string>
#include <system_error>
#include <string_view>

#include "sockit/address.hpp"

namespace sockit::cli {

// The parsed address, or nullopt after printing "sockit: bad address 'X': why".
[[nodiscard]] std::optional<Address> parse_address_arg(std::string_view text);

// What is wrong with an address that does not parse, as specific as the text
// allows, with the likely fix where there is one: a missing scheme
// ("/tmp/x.sock": "no scheme; did you mean unix:/tmp/x.sock?", "127.0.0.1:8080":
// "... tcp://127.0.0.1:8080?"), unix: without a path, unix:@ without a name, an
// IPv6 address without brackets ("did you mean tcp://[::1]:80?"), a missing or
// out-of-range port, a malformed host. Falls back to the error's own message.
[[nodiscard]] std::string explain_bad_address(std::string_view text, const std::error_code& ec);

// nc's habit, `sockit connect 127.0.0.1 8080`: the address sockit would take
// ("tcp://127.0.0.1:8080"), or empty when `host` and `port` do not look like that.
[[nodiscard]] std::string nc_habit_hint(std::string_view host, std::string_view port);

}  // namespace sockit::cli
