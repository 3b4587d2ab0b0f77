#include "errors.hpp"

#include <fmt/core.h>

#include <cctype>
#include <cstdio>

#include "sockit/result.hpp"

namespace sockit::cli {
namespace {

// A hint only where the cause is common and the next step is obvious; a wrong
// guess would mislead more than no hint at all.
std::string_view hint_for(std::string_view operation, const std::error_code& ec) {
  if (operation == "connect") {
    if (ec == std::errc::connection_refused || ec == std::errc::no_such_file_or_directory) {
      return "is a server listening?";
    }
    if (ec == errc::timed_out) return "no answer before --timeout";
  }
  if (ec == std::errc::permission_denied) return "check the permissions of the path";
  return {};
}

}  // namespace

std::string describe(const std::error_code& ec) {
  std::string text = ec.message();
  // Lower "Connection refused" but leave "IPv6 ..." or "TCP ..." alone.
  if (text.size() >= 2 && std::isupper(static_cast<unsigned char>(text[0])) &&
      std::islower(static_cast<unsigned char>(text[1]))) {
    text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  }
  return text;
}

void print_error(std::string_view operation, std::string_view address, const std::error_code& ec) {
  print_error(operation, address, {}, ec);
}

void print_error(std::string_view operation, std::string_view address, std::string_view detail,
                 const std::error_code& ec) {
  std::string line = fmt::format("sockit: {} {}: ", operation, address);
  if (!detail.empty()) line += fmt::format("{}: ", detail);
  line += describe(ec);
  if (auto hint = hint_for(operation, ec); !hint.empty()) line += fmt::format(" ({})", hint);
  line += '\n';
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
}

int usage_error(std::string_view operation, std::string_view address, std::string_view why) {
  fmt::print(stderr, "sockit: {} {}: {}\n", operation, address, why);
  std::fflush(stderr);
  return kExitUsage;
}

}  // namespace sockit::cli
