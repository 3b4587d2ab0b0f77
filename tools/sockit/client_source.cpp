#include "client_source.hpp"

#include <fmt/core.h>

#include <algorithm>

#include "errors.hpp"

namespace sockit::cli {
namespace {

// "--bind 127.0.0.2", "--bind 127.0.0.2:5000", "--bind [::1]:0", "--bind ::1" or a
// whole "tcp://127.0.0.2:0": the scheme is the server's, the port 0 unless given.
std::string bind_text(const std::string& written, const Address& server) {
  if (written.find("://") != std::string::npos) return written;
  const std::string scheme = server.transport() == Transport::udp ? "udp://" : "tcp://";
  const auto colons = std::count(written.begin(), written.end(), ':');
  if (written.starts_with('[')) return scheme + written + (written.ends_with(']') ? ":0" : "");
  if (colons == 0) return scheme + written + ":0";
  if (colons == 1) return scheme + written;
  return scheme + "[" + written + "]:0";  // a bare IPv6 address
}

}  // namespace

void add_bind_option(CLI::App& command, ClientSourceArgs& into) {
  into.bind_option = command.add_option("--bind", into.bind,
                                        "Local address to connect from: HOST, HOST:PORT, [V6]:PORT\n"
                                        "(port 0 or none: any port); tcp:// and udp:// only");
  into.bind_option->type_name("HOST[:PORT]");
}

std::optional<ConnectOptions> client_connect_options(std::string_view command, std::string_view address_text,
                                                     const Address& address, const ClientSourceArgs& args) {
  ConnectOptions options;
  const bool given_bind = args.bind_option != nullptr && args.bind_option->count() > 0;
  // -4/-6 with a Unix address or with an IP literal of the other family is a
  // usage error here as on listen, echo and relay.
  std::string why = family_misuse(args.family, address);
  if (address.is_unix() && why.empty() && given_bind) why = "--bind applies to tcp:// and udp:// addresses";
  if (!why.empty()) {
    usage_error(command, address_text, why);
    return std::nullopt;
  }
  if (address.is_unix()) return options;
  options.family = args.family.family();
  if (given_bind) {
    auto local = Address::parse(bind_text(args.bind, address));
    if (!local || local->transport() != address.transport()) {
      usage_error(command, address_text,
                  fmt::format("bad --bind '{}': {}", args.bind,
                              local ? "use the server's scheme or just HOST[:PORT]" : describe(local.error())));
      return std::nullopt;
    }
    options.local_address = std::move(*local);
  }
  return options;
}

}  // namespace sockit::cli
