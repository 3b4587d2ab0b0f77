// The sockit command line: `sockit connect|listen|echo ADDR`.
//
// Parsing (CLI11, which reports through exceptions) stays in this file; the
// commands themselves report errors as values and return an exit status.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <vector>

#include "commands.hpp"
#include "errors.hpp"
#include "log.hpp"

namespace sockit::cli {

void add_verbose_flag(CLI::App& command) {
  command.add_flag_callback(
      "-v,--verbose", [] { set_verbose(true); }, "Diagnostics on stderr (connections, closes, dropped data)");
}

namespace {

// A parent that closed stdin/stdout/stderr would otherwise hand those numbers to
// the first sockets we open, and relay data into them. /dev/null keeps them taken.
void ensure_standard_descriptors() {
  for (int fd = 0; fd <= 2; ++fd) {
    if (::fcntl(fd, F_GETFD) < 0) {
      const int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
      if (null_fd >= 0 && null_fd != fd) {
        ::dup2(null_fd, fd);
        ::close(null_fd);
      }
    }
  }
}

}  // namespace
}  // namespace sockit::cli

namespace sockit::cli {
namespace {

int run_cli(int argc, char** argv) {
  ensure_standard_descriptors();
  // The library sends with MSG_NOSIGNAL, but our writes to stdout are plain write(2):
  // a reader that goes away (`| head -1`) must be an EPIPE we handle, not death by
  // SIGPIPE. Process-wide state is the program's to set, never the library's.
  ::signal(SIGPIPE, SIG_IGN);

  CLI::App app("sockit: connect to, listen on and echo over Unix, TCP and UDP sockets", "sockit");
  app.require_subcommand(1);
  app.footer(std::string("Run 'sockit COMMAND --help' for a command's options and examples.\n\n") +
             kAddressHelp);
  std::vector<Command> commands = {add_connect_command(app), add_listen_command(app), add_echo_command(app),
                                   add_relay_command(app),   add_probe_command(app),   add_send_fd_command(app),
                                   add_recv_fd_command(app)};

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);  // prints the message and the --help pointer
    return kExitUsage;
  }
  for (const Command& command : commands) {
    if (command.app->parsed()) return command.run();
  }
  return kExitUsage;  // unreachable: require_subcommand(1)
}

}  // namespace
}  // namespace sockit::cli

int main(int argc, char** argv) {
  // The library reports errors as values; what can still throw is std::bad_alloc
  // and the like. Say so in one line and fail, rather than abort with a core dump.
  try {
    return sockit::cli::run_cli(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sockit: internal error: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "sockit: internal error\n");
  }
  return sockit::cli::kExitFailure;
}
