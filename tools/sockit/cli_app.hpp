// The sockit command line as a parser: every command registered on one CLI11 app,
// and parse_command_line(), which decides what a command line means without
// running anything (main.cpp runs the chosen command; fuzz/fuzz_cli.cpp feeds it
// arbitrary argument vectors).
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <vector>

#include "commands.hpp"

namespace sockit::cli {

struct CliApp {
  CliApp();
  CLI::App app;
  std::vector<Command> commands;
};

// The exit status when the command line is settled without running a command
// (--help, --version, `help`, a usage error: printed, one line), or nullopt when a
// command was chosen and parsed: then chosen_command() names it.
[[nodiscard]] std::optional<int> parse_command_line(CliApp& cli, int argc, char** argv);
[[nodiscard]] const Command* chosen_command(const CliApp& cli);

}  // namespace sockit::cli
