#include "log.hpp"

namespace sockit::cli {
namespace {
bool g_verbose = false;  // set once from the command line, before any I/O
}  // namespace

void set_verbose(bool on) { g_verbose = on; }
bool verbose() { return g_verbose; }

void print_note(std::string_view text) {
  fmt::print(stderr, "sockit: {}\n", text);
  std::fflush(stderr);
}

void announce_listening(const Address& address) {
  fmt::print(stderr, "sockit: listening on {}\n", address.to_string());
  // An address without a host means loopback; a wildcard has to be written out,
  // and is then said aloud once: it is the commonest way to expose a test server.
  if (address.is_inet() && (address.host() == "0.0.0.0" || address.host() == "::")) {
    fmt::print(stderr,
               "sockit: warning: {} is every network interface: other hosts can reach this port "
               "(127.0.0.1 or [::1] keeps it on this host)\n",
               address.host());
  }
  std::fflush(stderr);
}

}  // namespace sockit::cli
