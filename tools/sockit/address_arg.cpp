#include "address_arg.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <string>

#include "errors.hpp"

namespace sockit::cli {
namespace {

bool all_digits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool parses(const std::string& text) { return Address::parse(text).has_value(); }

std::string lowered(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool is_unix_scheme(std::string_view scheme) {
  return scheme == "unix" || scheme == "unix-dgram" || scheme == "unix-seqpacket";
}

// An address written without a scheme, the way nc or a config file would: a path,
// HOST:PORT, or a bare port.
std::string explain_missing_scheme(std::string_view text) {
  const std::string t(text);
  if (t.starts_with('/') || t.starts_with("./") || t.starts_with("../") || t.ends_with(".sock")) {
    return fmt::format("no scheme; did you mean unix:{}?", t);
  }
  if (t.starts_with('@')) return fmt::format("no scheme; did you mean unix:{} (abstract)?", t);
  if (all_digits(t)) return fmt::format("no scheme; did you mean tcp://127.0.0.1:{}?", t);
  if (parses("tcp://" + t)) return fmt::format("no scheme; did you mean tcp://{}?", t);
  // A bare word: a host name without its port, or a socket file without unix:.
  // Only a dotted name or localhost is surely a host.
  if (parses("tcp://" + t + ":0")) {
    if (t == "localhost" || t.find('.') != std::string::npos) {
      return fmt::format("no scheme and no port; did you mean tcp://{}:PORT?", t);
    }
    return fmt::format("no scheme; write unix:{} for a socket file or tcp://{}:PORT for a host", t, t);
  }
  return {};
}

std::string explain_inet(std::string_view scheme, std::string_view rest) {
  if (!rest.starts_with("//")) {
    const std::string fixed = fmt::format("{}://{}", scheme, rest);
    if (parses(fixed)) return fmt::format("{}: needs '//'; did you mean {}?", scheme, fixed);
    return fmt::format("{}: addresses are written {}://HOST:PORT", scheme, scheme);
  }
  const std::string_view authority = rest.substr(2);
  if (authority.empty()) return fmt::format("no host or port; write {}://HOST:PORT", scheme);
  // An IPv6 literal without brackets: which ':' starts the port cannot be told.
  if (!authority.starts_with('[') && std::count(authority.begin(), authority.end(), ':') > 1) {
    const auto colon = authority.rfind(':');
    const std::string bracketed =
        fmt::format("{}://[{}]:{}", scheme, authority.substr(0, colon), authority.substr(colon + 1));
    if (parses(bracketed)) {
      return fmt::format("an IPv6 address needs brackets; did you mean {}?", bracketed);
    }
    return fmt::format("an IPv6 address needs brackets: {}://[ADDRESS]:PORT", scheme);
  }
  std::string_view port;
  std::string_view host;
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return "'[' without its ']'";
    host = authority.substr(1, close - 1);
    const auto after = authority.substr(close + 1);
    if (!after.starts_with(':')) return fmt::format("missing port; write {}://[{}]:PORT", scheme, host);
    port = after.substr(1);
    if (!parses(fmt::format("{}://[{}]:0", scheme, host))) {
      return fmt::format("'{}' is not an IPv6 address (with an optional %interface)", host);
    }
  } else {
    const auto colon = authority.rfind(':');
    if (colon == std::string_view::npos) {
      return fmt::format("missing port; write {}://{}:PORT (port 0 asks the kernel for a free one)", scheme,
                         authority);
    }
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
    if (!host.empty() && !parses(fmt::format("{}://{}:0", scheme, host))) {
      return fmt::format("'{}' is not a host name or an IPv4 address", host);
    }
  }
  if (port.empty()) return fmt::format("missing port after ':' (0 to 65535; 0 asks the kernel for a free one)");
  if (!all_digits(port)) return fmt::format("'{}' is not a port number (0 to 65535)", port);
  return fmt::format("port {} is out of range (0 to 65535)", port);
}

std::string explain_unix(std::string_view scheme, std::string_view rest) {
  if (rest.empty()) {
    return fmt::format("{}: needs a path or an abstract name ({}:/tmp/x.sock, {}:@name)", scheme, scheme, scheme);
  }
  if (rest == "@") return fmt::format("{}:@ needs a name after the '@'", scheme);
  if (rest.starts_with("//") && !rest.substr(2).starts_with('/')) {
    return fmt::format("{}:// takes an absolute path ({}:///run/x.sock); a relative one is {}:{}", scheme, scheme,
                       scheme, rest.substr(2));
  }
  return {};
}

}  // namespace

std::string explain_bad_address(std::string_view text, const std::error_code& ec) {
  if (text.empty()) return "empty address; write one such as tcp://127.0.0.1:8080 or unix:/tmp/x.sock";
  if (ec == errc::address_embedded_nul || ec == errc::address_path_too_long) return describe(ec);
  const auto colon = text.find(':');
  const std::string scheme = colon == std::string_view::npos ? std::string() : std::string(text.substr(0, colon));
  const std::string_view rest = colon == std::string_view::npos ? std::string_view() : text.substr(colon + 1);
  std::string why;
  if (ec == errc::address_unknown_scheme) {
    if (lowered(scheme) != scheme && parses(lowered(scheme) + ":" + std::string(rest))) {
      why = fmt::format("schemes are lower case; did you mean {}:{}?", lowered(scheme), rest);
    } else {
      why = explain_missing_scheme(text);
    }
  } else if (scheme == "tcp" || scheme == "udp") {
    why = explain_inet(scheme, rest);
  } else if (is_unix_scheme(scheme)) {
    why = explain_unix(scheme, rest);
  } else if (scheme == "unix-abstract" && rest.empty()) {
    why = "unix-abstract: needs a name (unix-abstract:NAME)";
  } else if (scheme == "ipc") {
    if (rest == "//" || rest.empty()) {
      why = "ipc:// needs a path (ipc:///run/x.sock, ipc://relative.sock) or @name";
    } else if (rest == "//@") {
      why = "ipc://@ needs a name after the '@'";
    } else if (!rest.starts_with("//")) {
      why = fmt::format("ipc: needs '//'; did you mean ipc://{}?", rest);
    }
  }
  return why.empty() ? describe(ec) : why;
}

std::optional<Address> parse_address_arg(std::string_view text) {
  auto address = Address::parse(text);
  if (address) return std::move(*address);
  fmt::print(stderr, "sockit: bad address '{}': {}\n", text, explain_bad_address(text, address.error()));
  std::fflush(stderr);
  return std::nullopt;
}

std::string nc_habit_hint(std::string_view host, std::string_view port) {
  if (!all_digits(port) || host.empty() || host.find(':') != std::string_view::npos) {
    if (!host.empty() && host.find("::") != std::string_view::npos && all_digits(port)) {
      const std::string v6 = fmt::format("tcp://[{}]:{}", host, port);
      if (parses(v6)) return v6;
    }
    return {};
  }
  const std::string candidate = fmt::format("tcp://{}:{}", host, port);
  return parses(candidate) ? candidate : std::string();
}

}  // namespace sockit::cli
