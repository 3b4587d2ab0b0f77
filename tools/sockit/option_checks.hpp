// Checks for numeric options, and CLI11's parse errors in sockit's words.
//
// Every number on the command line means something bounded: a count, a size, a
// number of seconds. CLI11's own conversion accepts what it cannot mean (strtoull
// wraps "-1" to 2^64-1 and saturates "18446744073709551616"; "010" is octal; NaN
// passes CLI::Range, since every comparison with it is false), so each numeric
// option goes through one of these instead: decimal digits only, finite, within
// [min, max], or a usage error (exit 2) that names the option, what it wanted and
// the range:
//   sockit: --timeout: 'abc' is not a number of seconds (0.001 to 86400)
//   sockit: --max-conns-per-peer: '-1' is not a number of connections (0 to 1048576)
//
// Use with ->transform(...) (not ->check): the accepted text is rewritten to its
// plain decimal form before CLI11 converts it, so "010" means ten.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <string_view>

namespace sockit::cli {

// Seconds, fractions allowed: "0.5", "2", "1e-3". `what` names the quantity in the
// message ("a number of seconds").
[[nodiscard]] CLI::Validator seconds_in(double min, double max, std::string what = "a number of seconds");
// A whole number in [min, max], decimal digits only: "a number of connections".
[[nodiscard]] CLI::Validator whole_in(std::uint64_t min, std::uint64_t max, std::string what);

// CLI11's message for a parse error in sockit's words, one line without the
// "sockit: " prefix: "Value abc not in range 0.001000 to 86400.000000" becomes
// "'abc' is not in range 0.001 to 86400", "The following argument was not
// expected: x" becomes "unexpected argument 'x'", and so on. Messages it does
// not know come back with their first letter lowered.
[[nodiscard]] std::string house_style(std::string_view cli11_message);

}  // namespace sockit::cli
