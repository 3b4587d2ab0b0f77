#include "errors.hpp"

#include <fmt/core.h>

#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include <cctype>
#include <cstdio>

#include "sockit/address.hpp"
#include "sockit/result.hpp"

namespace sockit::cli {
namespace {

// The lowest port an unprivileged process may bind (1024 unless the system
// lowered it).
unsigned unprivileged_port_start() {
  unsigned start = 1024;
  if (std::FILE* f = std::fopen("/proc/sys/net/ipv4/ip_unprivileged_port_start", "re")) {
    if (std::fscanf(f, "%u", &start) != 1) start = 1024;
    std::fclose(f);
  }
  return start;
}

const char* type_name(int type) {
  return type == SOCK_DGRAM ? "datagram" : type == SOCK_SEQPACKET ? "seqpacket" : "stream";
}

// A Unix socket of another type than the address's scheme says (EPROTOTYPE):
// "datagram" and the scheme that reaches it, found by connecting with each type.
// A datagram connect sends nothing; a seqpacket or stream one is a connection the
// server sees open and close, as listen()'s stale-file probe is.
std::string other_socket_type(const Address& address) {
  struct Kind {
    int type;
    const char* name;
    const char* scheme;
  };
  static constexpr Kind kKinds[] = {{SOCK_DGRAM, "datagram", "unix-dgram"},
                                    {SOCK_SEQPACKET, "seqpacket", "unix-seqpacket"},
                                    {SOCK_STREAM, "stream", "unix"}};
  auto endpoints = address.resolve();
  if (!endpoints || endpoints->empty()) return {};
  const Endpoint& endpoint = endpoints->front();
  for (const Kind& kind : kKinds) {
    if (kind.type == address.socket_type()) continue;
    const int fd = ::socket(AF_UNIX, kind.type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return {};
    const int rc = ::connect(fd, endpoint.get(), endpoint.length);
    const int error = rc == 0 ? 0 : errno;
    ::close(fd);
    // A path of another type says EPROTOTYPE; an abstract name is looked up by
    // type too, so there a miss is ECONNREFUSED.
    if (error == EPROTOTYPE || (address.is_abstract() && error == ECONNREFUSED)) continue;
    const std::string where = address.is_abstract() ? "@" + address.path() : address.path();
    return fmt::format("{} socket, not a {} one: use {}:{}", kind.name, type_name(address.socket_type()),
                       kind.scheme, where);
  }
  return {};
}

// The cause to print: the error's own words, except where the address says more.
// An IPv6 scope naming no interface makes getaddrinfo fail like an unknown host;
// say which part is wrong instead.
std::string cause(std::string_view address, const std::error_code& ec) {
  if (ec == std::errc::wrong_protocol_type || ec == std::errc::connection_refused) {
    auto parsed = Address::parse(address);
    const bool probe = parsed && parsed->is_unix() &&
                       (ec == std::errc::wrong_protocol_type || parsed->is_abstract());
    if (probe) {
      if (std::string other = other_socket_type(*parsed); !other.empty()) {
        return ec == std::errc::wrong_protocol_type ? fmt::format("the socket is a {}", other)
                                                    : fmt::format("the name belongs to a {}", other);
      }
    }
  }
  if (ec == errc::name_not_resolved) {
    auto parsed = Address::parse(address);
    if (parsed && parsed->is_inet()) {
      const std::string& host = parsed->host();
      const auto percent = host.find('%');
      if (percent != std::string::npos) {
        const std::string zone = host.substr(percent + 1);
        const bool numeric = !zone.empty() && zone.find_first_not_of("0123456789") == std::string::npos;
        if (!numeric && ::if_nametoindex(zone.c_str()) == 0) {
          return fmt::format("no network interface named '{}' (the scope after '%')", zone);
        }
      }
    }
  }
  return describe(ec);
}

}  // namespace

std::string hint_for(std::string_view operation, std::string_view address, const std::error_code& ec) {
  if (operation == "connect") {
    if (ec == std::errc::connection_refused || ec == std::errc::no_such_file_or_directory) {
      return "is a server listening?";
    }
    if (ec == errc::timed_out) return "no answer before --timeout";
  }
  if (ec == std::errc::permission_denied) {
    auto parsed = Address::parse(address);
    if (parsed && parsed->is_inet()) {
      // EACCES from bind(2) on an IP address has one cause: a privileged port.
      if (operation != "connect" && parsed->port() != 0 && parsed->port() < unprivileged_port_start()) {
        return fmt::format("ports below {} need root or CAP_NET_BIND_SERVICE", unprivileged_port_start());
      }
      return {};  // a firewall or an LSM: we cannot tell which
    }
    if (parsed && parsed->is_abstract()) return {};  // no file: an LSM refused it
    return "check the permissions of the path";
  }
  return {};
}

std::string describe(const std::error_code& ec) {
  std::string text = ec.message();
  // Lower "Connection refused" but leave "IPv6 ..." or "TCP ..." alone.
  if (text.size() >= 2 && std::isupper(static_cast<unsigned char>(text[0])) &&
      std::islower(static_cast<unsigned char>(text[1]))) {
    text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  }
  return text;
}

int usage_error(std::string_view operation, std::string_view address, std::string_view why) {
  fmt::print(stderr, "sockit: {} {}: {}\n", operation, address, why);
  std::fflush(stderr);
  return kExitUsage;
}

void print_error(std::string_view operation, std::string_view address, const std::error_code& ec) {
  print_error(operation, address, {}, ec);
}

void print_error(std::string_view operation, std::string_view address, std::string_view detail,
                 const std::error_code& ec) {
  std::string line = fmt::format("sockit: {} {}: ", operation, address);
  if (!detail.empty()) line += fmt::format("{}: ", detail);
  // The address explains the error only for the operation itself, not for a step of it.
  const std::string why = detail.empty() ? cause(address, ec) : describe(ec);
  line += why;
  // A cause found from the address says what to do already.
  if (why != describe(ec)) {
    line += '\n';
    std::fputs(line.c_str(), stderr);
    std::fflush(stderr);
    return;
  }
  if (auto hint = hint_for(operation, address, ec); !hint.empty()) line += fmt::format(" ({})", hint);
  line += '\n';
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
}

}  // namespace sockit::cli
