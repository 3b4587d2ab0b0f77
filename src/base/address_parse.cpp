#include "address_parse.hpp"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>

#include <algorithm>
#include <charconv>

namespace sockit::detail {
namespace {

// How the text after "scheme:" is read.
enum class Form : std::uint8_t { unix_any, unix_abstract, ipc, inet };

struct Scheme {
  std::string_view name;
  Transport transport;
  Form form;
};

// Schemes are matched exactly and case-sensitively: "TCP://" is a typo we report
// (address_unknown_scheme) rather than guess at.
constexpr Scheme kSchemes[] = {
    {"unix", Transport::unix_stream, Form::unix_any},
    {"unix-abstract", Transport::unix_stream, Form::unix_abstract},
    {"unix-dgram", Transport::unix_dgram, Form::unix_any},
    {"unix-seqpacket", Transport::unix_seqpacket, Form::unix_any},
    {"ipc", Transport::unix_stream, Form::ipc},
    {"tcp", Transport::tcp, Form::inet},
    {"udp", Transport::udp, Form::inet},
};

// DNS limits (RFC 1035): 63 bytes a label, 253 for the dotted name.
constexpr std::size_t kMaxLabelLength = 63;
constexpr std::size_t kMaxHostNameLength = 253;

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// Underscore is not legal in DNS host names, but it is in Docker/Compose service
// names and in /etc/hosts entries people actually use, so we let getaddrinfo decide.
bool is_host_char(char c) { return is_alpha(c) || is_digit(c) || c == '-' || c == '_'; }

Result<AddressParts> unix_path(Transport transport, std::string_view path) {
  if (path.empty()) return fail(errc::address_invalid);
  if (path.size() > kMaxUnixPathLength) return fail(errc::address_path_too_long);
  return AddressParts{transport, false, std::string(path), {}, 0};
}

Result<AddressParts> unix_abstract(Transport transport, std::string_view name) {
  if (name.empty()) return fail(errc::address_invalid);
  if (name.size() > kMaxAbstractNameLength) return fail(errc::address_path_too_long);
  return AddressParts{transport, true, std::string(name), {}, 0};
}

// "//" introduces the URL spelling, which has no authority part: what follows
// must be an absolute path ("unix:///run/x" is "/run/x"). So "unix://run/x" is an
// error rather than the relative path "//run/x" or the host "run".
Result<AddressParts> unix_url_path(Transport transport, std::string_view after_slashes) {
  if (!after_slashes.starts_with('/')) return fail(errc::address_invalid);
  return unix_path(transport, after_slashes);
}

// unix:PATH, unix:///abs, unix:@NAME (and the same after unix-dgram: / unix-seqpacket:).
Result<AddressParts> parse_unix(Transport transport, std::string_view rest) {
  if (rest.starts_with("//")) return unix_url_path(transport, rest.substr(2));
  if (rest.starts_with('@')) return unix_abstract(transport, rest.substr(1));
  if (rest == kUnnamedMarker) return fail(errc::address_invalid);
  return unix_path(transport, rest);
}

// ipc:// is ZeroMQ's and nng's spelling, read as ZeroMQ reads it: everything after
// "ipc://" is the path, absolute (ipc:///run/x) or relative to the working
// directory (ipc://rel.sock), and "ipc://@name" is an abstract name.
Result<AddressParts> parse_ipc(std::string_view rest) {
  if (!rest.starts_with("//")) return fail(errc::address_invalid);
  rest.remove_prefix(2);
  if (rest.starts_with('@')) return unix_abstract(Transport::unix_stream, rest.substr(1));
  // As after unix: the marker names the unnamed socket, never a file ("./(unnamed)"
  // does); accepted here it printed as unix:(unnamed) and did not parse back (found
  // by fuzz/fuzz_address.cpp).
  if (rest == kUnnamedMarker) return fail(errc::address_invalid);
  return unix_path(Transport::unix_stream, rest);
}

Result<std::uint16_t> parse_port(std::string_view text) {
  // from_chars alone would accept a leading '-' for signed types and stop at the
  // first non-digit; insisting on digits only rejects "+80", " 80", "80 ", "80/".
  if (text.empty() || !std::all_of(text.begin(), text.end(), is_digit)) return fail(errc::address_bad_port);
  std::uint32_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value > 65535) {
    return fail(errc::address_bad_port);
  }
  return static_cast<std::uint16_t>(value);
}

bool is_ipv6_literal(std::string_view host) {
  const auto [address, zone] = split_zone(host);
  if (address.size() != host.size()) {
    // A zone must name an interface (or its index); the name is checked again,
    // against the real interfaces, only by resolve().
    if (zone.empty() || zone.size() >= IF_NAMESIZE) return false;
    if (!std::all_of(zone.begin(), zone.end(), [](char c) { return is_host_char(c) || c == '.'; })) {
      return false;
    }
  }
  in6_addr parsed{};
  return ::inet_pton(AF_INET6, std::string(address).c_str(), &parsed) == 1;
}

// True when getaddrinfo would read `host` as a number: its last label is decimal,
// octal or 0x-hex. Such a host must then be a strict dotted quad, because glibc's
// inet_aton fallback would otherwise turn "127.1" or "0x7f.1" into 127.0.0.1, an
// address the user never wrote. (No top-level domain starts with a digit.)
bool looks_numeric(std::string_view host) {
  if (host.ends_with('.')) host.remove_suffix(1);
  const auto dot = host.rfind('.');
  std::string_view last = dot == std::string_view::npos ? host : host.substr(dot + 1);
  if (last.starts_with("0x") || last.starts_with("0X")) {
    last.remove_prefix(2);
    return std::all_of(last.begin(), last.end(), is_hex);
  }
  return !last.empty() && std::all_of(last.begin(), last.end(), is_digit);
}

bool is_host_name(std::string_view host) {
  if (host.ends_with('.')) host.remove_suffix(1);  // "example.com." is fully qualified
  if (host.empty() || host.size() > kMaxHostNameLength) return false;
  std::size_t label = 0;
  for (const char c : host) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
    } else if (!is_host_char(c) || ++label > kMaxLabelLength) {
      return false;
    }
  }
  return label != 0;
}

// A host written without brackets: an IPv4 literal or a name. A ':' here means an
// IPv6 literal that lost its brackets; guessing which ':' starts the port is how
// "::1:80" becomes the wrong address, so it is an error.
bool is_unbracketed_host(std::string_view host) {
  if (host.find(':') != std::string_view::npos) return false;
  if (looks_numeric(host)) {
    in_addr parsed{};
    return ::inet_pton(AF_INET, std::string(host).c_str(), &parsed) == 1;
  }
  return is_host_name(host);
}

// HOST:PORT, [V6]:PORT or :PORT (the part after "tcp://" or "udp://").
Result<AddressParts> parse_inet(Transport transport, std::string_view authority) {
  std::string_view host;
  std::string_view port_text;
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return fail(errc::address_bad_host);
    host = authority.substr(1, close - 1);
    if (!is_ipv6_literal(host)) return fail(errc::address_bad_host);
    const auto after = authority.substr(close + 1);
    if (!after.starts_with(':')) return fail(errc::address_bad_port);
    port_text = after.substr(1);
  } else {
    const auto colon = authority.rfind(':');
    if (colon == std::string_view::npos) return fail(errc::address_bad_port);
    host = authority.substr(0, colon);
    // An empty host is loopback (see address.hpp), never INADDR_ANY: binding every
    // interface should be something the user writes, not something they forget.
    if (!host.empty() && !is_unbracketed_host(host)) return fail(errc::address_bad_host);
    port_text = authority.substr(colon + 1);
  }
  auto port = parse_port(port_text);
  if (!port) return fail(port.error());
  return AddressParts{transport, false, {}, std::string(host), *port};
}

}  // namespace

HostAndZone split_zone(std::string_view host) noexcept {
  const auto percent = host.find('%');
  if (percent == std::string_view::npos) return {host, {}};
  return {host.substr(0, percent), host.substr(percent + 1)};
}

Result<AddressParts> parse_address(std::string_view text) {
  if (text.empty()) return fail(errc::address_invalid);
  // Checked first and everywhere: the kernel and getaddrinfo read C strings, so a
  // NUL would silently cut the address short.
  if (text.find('\0') != std::string_view::npos) return fail(errc::address_embedded_nul);

  const auto colon = text.find(':');
  if (colon == std::string_view::npos) return fail(errc::address_unknown_scheme);
  const auto name = text.substr(0, colon);
  const auto* scheme = std::find_if(std::begin(kSchemes), std::end(kSchemes),
                                    [name](const Scheme& s) { return s.name == name; });
  if (scheme == std::end(kSchemes)) return fail(errc::address_unknown_scheme);

  const auto rest = text.substr(colon + 1);
  switch (scheme->form) {
    case Form::unix_any:
      return parse_unix(scheme->transport, rest);
    case Form::unix_abstract:
      return unix_abstract(scheme->transport, rest);  // taken verbatim, '@' too
    case Form::ipc:
      return parse_ipc(rest);
    case Form::inet:
      if (!rest.starts_with("//")) return fail(errc::address_invalid);
      return parse_inet(scheme->transport, rest.substr(2));
  }
  return fail(errc::address_invalid);
}

}  // namespace sockit::detail
