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
  std::fflush(stderr);
}

}  // namespace sockit::cli
