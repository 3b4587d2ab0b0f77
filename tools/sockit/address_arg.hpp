// The ADDR argument of every subcommand. A malformed address is a usage error
// (exit 2), reported on one line with sockit's own explanation of what is wrong.
#pragma once

#include <optional>
#include <string_view>

#include "sockit/address.hpp"

namespace sockit::cli {

// The parsed address, or nullopt after printing "sockit: bad address 'X': why".
[[nodiscard]] std::optional<Address> parse_address_arg(std::string_view text);

}  // namespace sockit::cli
