#include "address_arg.hpp"

#include <fmt/core.h>

#include <cstdio>

#include "errors.hpp"

namespace sockit::cli {

std::optional<Address> parse_address_arg(std::string_view text) {
  auto address = Address::parse(text);
  if (address) return std::move(*address);
  fmt::print(stderr, "sockit: bad address '{}': {}\n", text, describe(address.error()));
  std::fflush(stderr);
  return std::nullopt;
}

}  // namespace sockit::cli
