// The subcommands. Each cmd_<name>.cpp registers its options on the CLI11 app and
// returns how to run it; main() parses once and runs the one that was chosen.
//
// Options live in the closure, not in globals, so a command's state is visible in
// one file. run() returns the process exit status (see errors.hpp).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace sockit::cli {

struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

Command add_connect_command(CLI::App& parent);
Command add_listen_command(CLI::App& parent);
Command add_echo_command(CLI::App& parent);
Command add_relay_command(CLI::App& parent);
Command add_probe_command(CLI::App& parent);
Command add_send_fd_command(CLI::App& parent);
Command add_recv_fd_command(CLI::App& parent);
Command add_inspect_command(CLI::App& parent);
Command add_bench_command(CLI::App& parent);
Command add_load_command(CLI::App& parent);

// -v/--verbose, on every subcommand so it can be written after the subcommand's name.
void add_verbose_flag(CLI::App& command);

// The address syntax, for the footers of --help.
inline constexpr const char* kAddressHelp =
    "Addresses:\n"
    "  tcp://HOST:PORT  tcp://[::1]:PORT  tcp://:PORT (no host = 127.0.0.1)\n"
    "  udp://HOST:PORT  udp://[::1]:PORT\n"
    "  unix:PATH  unix:///abs/path  ipc://PATH        Unix stream socket\n"
    "  unix:@NAME  unix-abstract:NAME                 abstract namespace (no file)\n"
    "  unix-seqpacket:PATH  unix-dgram:PATH           other Unix socket types\n"
    "Port 0 asks the kernel for a free port; the chosen one is printed on stderr.\n"
    "\n"
    "Exit status: 0 success, 1 runtime error (refused, reset, ...),\n"
    "2 usage error (bad option or an address that does not parse).\n";

}  // namespace sockit::cli
