// The CLI's argument parsing (tools/sockit/cli_app.hpp) on arbitrary argument
// vectors: the top-level rules (no command, unknown command, `help`), CLI11's
// parse with every command's options and validators (seconds, sizes,
// percentages, modes, owners, backends), the nc-habit hints and the rewording of
// CLI11's messages. Nothing is run: parse_command_line() only decides what the
// command line means. Checked beyond "no crash": the outcome is a help/version
// (0), a usage error (2), or exactly one chosen command.
// Input: the arguments, separated by NUL bytes (argv[0] is "sockit").
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "cli_app.hpp"
#include "errors.hpp"

namespace {

void check(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::string> args{"sockit"};
  std::string current;
  for (std::size_t i = 0; i < size && args.size() < 32; ++i) {
    if (data[i] == 0) {
      args.push_back(current);
      current.clear();
    } else {
      current.push_back(static_cast<char>(data[i]));
    }
  }
  if (!current.empty() && args.size() < 32) args.push_back(current);
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);

  sockit::cli::CliApp cli;
  const auto status = sockit::cli::parse_command_line(cli, static_cast<int>(args.size()), argv.data());
  if (status) {
    check(*status == sockit::cli::kExitOk || *status == sockit::cli::kExitUsage);
  } else {
    check(sockit::cli::chosen_command(cli) != nullptr);
  }
  return 0;
}
