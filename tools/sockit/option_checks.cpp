#include "option_checks.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <regex>

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
  const std::string message(cli11_message);
  std::smatch m;
  static const std::regex range(R"(^(.*): Value (.*) not in range (\S+) to (\S+)$)");
  static const std::regex member(R"(^(.*): (.*) not in \{(.*)\}$)");
  static const std::regex convert(R"(^Could not convert: (\S+) = (.*)$)");
  static const std::regex allowed(R"(^The value (.*) is not an allowed value for (.*)$)");
  static const std::regex extras(R"(^The following arguments? (?:was|were) not expected: (.*)$)");
  static const std::regex missing(R"(^(.*): \d+ required \S+ missing$)");
  static const std::regex flag_value(R"(^(.*): too many inputs for a flag$)");
  static const std::regex excludes(R"(^(\S+) excludes (\S+)$)");
  static const std::regex requires_(R"(^(\S+) requires (\S+)$)");
  if (std::regex_match(message, m, range)) {
    return fmt::format("{}: '{}' is not in range {} to {}", m[1].str(), m[2].str(), plain_number(m[3].str()),
                       plain_number(m[4].str()));
  }
  if (std::regex_match(message, m, member)) {
    return fmt::format("{}: '{}' is not one of {}", m[1].str(), m[2].str(), listed(m[3].str()));
  }
  if (std::regex_match(message, m, convert)) return fmt::format("{}: '{}' is not a valid value", m[1].str(), m[2].str());
  if (std::regex_match(message, m, allowed)) return fmt::format("{}: '{}' is not allowed", m[2].str(), m[1].str());
  if (std::regex_match(message, m, extras)) {
    const std::string first = m[1].str().substr(0, m[1].str().find(' '));
    if (first.size() > 1 && first[0] == '-' && !std::isdigit(static_cast<unsigned char>(first[1]))) {
      return fmt::format("unknown option '{}'", first);
    }
    return fmt::format("unexpected argument '{}'", first);
  }
  if (std::regex_match(message, m, missing)) return fmt::format("{} needs a value", m[1].str());
  if (std::regex_match(message, m, flag_value)) return fmt::format("{} takes no value", m[1].str());
  if (std::regex_match(message, m, excludes)) return fmt::format("{} cannot be used with {}", m[1].str(), m[2].str());
  if (std::regex_match(message, m, requires_)) return fmt::format("{} needs {}", m[1].str(), m[2].str());
  return lower_first(message);
}

}  // namespace sockit::cli
