// The sockit command line: `sockit COMMAND ...` (cli_app.hpp parses; the commands
// themselves report errors as values and return an exit status).
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <exception>

#include "cli_app.hpp"
#include "errors.hpp"

namespace sockit::cli {
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

int run_cli(int argc, char** argv) {
  ensure_standard_descriptors();
  // The library sends with MSG_NOSIGNAL, but our writes to stdout are plain write(2):
  // a reader that goes away (`| head -1`) must be an EPIPE we handle, not death by
  // SIGPIPE. Process-wide state is the program's to set, never the library's.
  ::signal(SIGPIPE, SIG_IGN);

  CliApp cli;
  if (auto status = parse_command_line(cli, argc, argv)) return *status;
  const Command* command = chosen_command(cli);
  return command != nullptr ? command->run() : kExitUsage;  // nullptr: unreachable, one command is required
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
