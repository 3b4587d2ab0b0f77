// A validator for floating-point options: CLI11's Range lets "nan" through (every
// comparison with NaN is false), and a NaN of seconds turned into a deadline is
// undefined behaviour. Use it before the Range: ->check(finite_number())->check(CLI::Range(...)).
#pragma once

#include <CLI/CLI.hpp>
#include <cmath>
#include <string>

namespace sockit::cli {

inline CLI::Validator finite_number() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        try {
          if (std::isfinite(std::stod(text))) return {};
        } catch (const std::exception&) {
          return "'" + text + "' is not a number";
        }
        return "'" + text + "' is not a finite number";
      },
      "NUMBER");
}

}  // namespace sockit::cli
