// --mode, --owner, --group and --create-parent: the socket-file options of every
// command that binds a Unix path (listen, echo, relay, recv-fd).
//
// add_unix_file_options() registers them so that parsing fills the library's
// UnixFileOptions directly (values are checked while parsing: a bad mode or an
// unknown user is a usage error, exit 2). The returned UnixFileOptionSet remembers
// which were given, so that a command can refuse them for an address that makes no
// socket file (tcp://, udp://, an abstract name) instead of silently ignoring them.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "sockit/address.hpp"
#include "sockit/unix_file_options.hpp"

namespace sockit::cli {

class UnixFileOptionSet {
 public:
  UnixFileOptionSet() = default;
  explicit UnixFileOptionSet(std::vector<CLI::Option*> options) : options_(std::move(options)) {}

  // Empty when the options given fit `address`; otherwise why not, for a usage
  // error ("--mode applies to Unix socket paths ..., not to tcp://").
  [[nodiscard]] std::string misuse(const Address& address) const;

 private:
  std::vector<CLI::Option*> options_;
};

// Registers the four options on `command`; parsing writes into `into`, which must
// outlive the parse (keep it in the command's argument struct).
UnixFileOptionSet add_unix_file_options(CLI::App& command, UnixFileOptions& into);

// The lines for a command's --help footer.
inline constexpr const char* kUnixFileHelp =
    "Unix socket paths: --mode OCTAL (default 0600; connecting needs write permission),\n"
    "--owner USER|UID and --group GROUP|GID (chown: root, or a group you are in),\n"
    "--create-parent (mkdir -p the directory, 0700). Refused for other addresses.\n";

}  // namespace sockit::cli
