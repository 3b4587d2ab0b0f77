#include "option_checks.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>

namespace sockit::cli {
namespace {

// "0.001", "86400", "31536000": no trailing zeros, no exponent.
std::string plain_number(double value) {
  std::string text = fmt::format("{:.6f}", value);
  while (!text.empty() && text.back() == '0') text.pop_back();
  if (!text.empty() && text.back() == '.') text.pop_back();
  return text;
}

std::string plain_number(std::string_view text) {
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::string(text);
  return plain_number(value);
}

std::string not_a(std::string_view input, std::string_view what, std::string_view range) {
  return fmt::format("'{}' is not {} ({})", input, what, range);
}

std::string lower_first(std::string text) {
  if (text.size() >= 2 && std::isupper(static_cast<unsigned char>(text[0])) &&
      std::islower(static_cast<unsigned char>(text[1]))) {
    text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  }
  return text;
}

// "{auto,select,poll}" (CLI11's set) as "auto, select, poll".
std::string listed(std::string set) {
  std::string out;
  for (char c : set) {
    if (c == ',') {
      out += ", ";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

CLI::Validator seconds_in(double min, double max, std::string what) {
  const std::string range = plain_number(min) + " to " + plain_number(max);
  CLI::Validator validator(
      [min, max, what, range](std::string& input) -> std::string {
        double value = 0;
        const char* begin = input.data();
        const char* end = begin + input.size();
        const auto [stop, ec] = std::from_chars(begin, end, value, std::chars_format::general);
        // from_chars takes "nan" and "inf" too: a number of seconds is finite.
        if (input.empty() || ec != std::errc() || stop != end || !std::isfinite(value) || value < min ||
            value > max) {
          return not_a(input, what, range);
        }
        return {};
      },
      "SECONDS");
  return validator;
}

CLI::Validator whole_in(std::uint64_t min, std::uint64_t max, std::string what) {
  const std::string range = fmt::format("{} to {}", min, max);
  CLI::Validator validator(
      [min, max, what, range](std::string& input) -> std::string {
        std::uint64_t value = 0;
        const char* begin = input.data();
        const char* end = begin + input.size();
        // Digits only: no sign (strtoull would wrap "-1"), no "0x", no spaces;
        // from_chars reports overflow where strtoull saturates.
        const bool digits = !input.empty() && std::all_of(input.begin(), input.end(), [](char c) {
          return std::isdigit(static_cast<unsigned char>(c)) != 0;
        });
        const auto [stop, ec] = std::from_chars(begin, end, value, 10);
        if (!digits || ec != std::errc() || stop != end || value < min || value > max) {
          return not_a(input, what, range);
        }
        input = std::to_string(value);  // "010" is ten here, not CLI11's octal eight
        return {};
      },
      "N");
  return validator;
}

std::string house_style(std::string_view cli11_message) {
  // Plain string matching, not std::regex: these are CLI11's fixed sentences
  // (Error.hpp, Validators.hpp of CLI11 2.x), and a miss only costs the rewording.
  const std::string_view m = cli11_message;
  auto between = [m](std::string_view after, std::string_view before, std::size_t from = 0) {
    const auto a = m.find(after, from);
    if (a == std::string_view::npos) return std::string_view();
    const auto start = a + after.size();
    const auto b = before.empty() ? m.size() : m.find(before, start);
    if (b == std::string_view::npos) return std::string_view();
    return m.substr(start, b - start);
  };
  // "--timeout: Value abc not in range 0.001000 to 86400.000000"
  if (const auto at = m.find(": Value "); at != std::string_view::npos && m.find(" not in range ", at) != std::string_view::npos) {
    const std::string_view name = m.substr(0, at);
    const std::string_view value = between(": Value ", " not in range ");
    const std::string_view low = between(" not in range ", " to ");
    const auto to = m.rfind(" to ");
    const std::string_view high = m.substr(to + 4);
    return fmt::format("{}: '{}' is not in range {} to {}", name, value, plain_number(low), plain_number(high));
  }
  // "--backend: kqueue not in {auto,select,...}"
  if (const auto set = m.find(" not in {"); set != std::string_view::npos && m.ends_with('}')) {
    const auto colon = m.find(": ");
    if (colon != std::string_view::npos && colon < set) {
      return fmt::format("{}: '{}' is not one of {}", m.substr(0, colon), m.substr(colon + 2, set - colon - 2),
                         listed(std::string(m.substr(set + 9, m.size() - set - 10))));
    }
  }
  if (m.starts_with("Could not convert: ")) {
    const std::string_view rest = m.substr(19);
    const auto eq = rest.find(" = ");
    if (eq != std::string_view::npos) return fmt::format("{}: '{}' is not a valid value", rest.substr(0, eq), rest.substr(eq + 3));
  }
  if (m.starts_with("The value ")) {
    const auto for_at = m.find(" is not an allowed value for ");
    if (for_at != std::string_view::npos) {
      return fmt::format("{}: '{}' is not allowed", m.substr(for_at + 29), m.substr(10, for_at - 10));
    }
  }
  for (std::string_view prefix : {std::string_view("The following argument was not expected: "),
                                  std::string_view("The following arguments were not expected: ")}) {
    if (!m.starts_with(prefix)) continue;
    const std::string_view args = m.substr(prefix.size());
    const std::string first(args.substr(0, args.find(' ')));
    if (first.size() > 1 && first[0] == '-' && !std::isdigit(static_cast<unsigned char>(first[1]))) {
      return fmt::format("unknown option '{}'", first);
    }
    return fmt::format("unexpected argument '{}'", first);
  }
  // "--threads: 1 required INT missing"
  if (m.ends_with(" missing") && m.find(" required ") != std::string_view::npos) {
    const auto colon = m.find(": ");
    if (colon != std::string_view::npos) return fmt::format("{} needs a value", m.substr(0, colon));
  }
  if (m.ends_with(": too many inputs for a flag")) return fmt::format("{} takes no value", m.substr(0, m.size() - 28));
  // "--a excludes --b", "--a requires --b"
  if (const auto at = m.find(" excludes "); at != std::string_view::npos && m.find(' ') == at &&
                                            m.find(' ', at + 10) == std::string_view::npos) {
    return fmt::format("{} cannot be used with {}", m.substr(0, at), m.substr(at + 10));
  }
  if (const auto at = m.find(" requires "); at != std::string_view::npos && m.find(' ') == at &&
                                            m.find(' ', at + 10) == std::string_view::npos) {
    return fmt::format("{} needs {}", m.substr(0, at), m.substr(at + 10));
  }
  return lower_first(std::string(m));
}

}  // namespace sockit::cli
