#include "cli_app.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "address_arg.hpp"
#include "errors.hpp"
#include "log.hpp"
#include "option_checks.hpp"

namespace sockit::cli {

void add_verbose_flag(CLI::App& command) {
  command.add_flag_callback(
      "-v,--verbose", [] { set_verbose(true); }, "Diagnostics on stderr (connections, closes, dropped data)");
}

namespace {

// The names of the commands, in the order --help lists them.
std::vector<std::string> command_names(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::App* command : app.get_subcommands({})) names.push_back(command->get_name());
  return names;
}

std::string joined(const std::vector<std::string>& names) {
  std::string text;
  for (const std::string& name : names) text += (text.empty() ? "" : ", ") + name;
  return text;
}

// One line on stderr, exit status 2: "sockit: WHY; see 'sockit [CMD] --help'".
int usage_error(std::string_view why, std::string_view command = {}) {
  const std::string help = command.empty() ? "sockit --help" : fmt::format("sockit {} --help", command);
  fmt::print(stderr, "sockit: {}; see '{}'\n", why, help);
  std::fflush(stderr);
  return kExitUsage;
}

// The command a parse error is about: the first argument that names one.
std::string command_in(const CLI::App& app, int argc, char** argv) {
  const std::vector<std::string> names = command_names(app);
  for (int i = 1; i < argc; ++i) {
    if (std::find(names.begin(), names.end(), argv[i]) != names.end()) return argv[i];
  }
  return {};
}

// `sockit connect 127.0.0.1 8080` (nc's HOST PORT): CLI11 took the host as ADDR
// and found the port left over. The address meant, or empty.
std::string nc_habit(const CLI::ParseError& e, int argc, char** argv) {
  if (dynamic_cast<const CLI::ExtrasError*>(&e) == nullptr) return {};
  for (int i = 2; i + 1 < argc; ++i) {
    const std::string_view host = argv[i];
    if (host.starts_with('-') || Address::parse(host)) continue;
    if (auto hint = nc_habit_hint(host, argv[i + 1]); !hint.empty()) return hint;
  }
  return {};
}

// What CLI11 does not decide the way a person expects: no command, an unknown
// one, `sockit help [CMD]`. Returns an exit status, or nullopt to go on parsing.
std::optional<int> handle_top_level(CLI::App& app, int argc, char** argv) {
  const std::vector<std::string> names = command_names(app);
  const std::string commands = joined(names);
  if (argc < 2) return usage_error(fmt::format("a command is required: {}", commands));
  const std::string_view first = argv[1];
  if (first == "help") {
    if (argc == 2) {
      std::fputs(app.help().c_str(), stdout);
      return kExitOk;
    }
    const std::string_view topic = argv[2];
    if (std::find(names.begin(), names.end(), topic) == names.end()) {
      return usage_error(fmt::format("unknown command '{}'; the commands are {}", topic, commands));
    }
    if (argc > 3) return usage_error(fmt::format("help takes one command, not '{}'", argv[3]));
    std::fputs(app.get_subcommand(std::string(topic))->help("sockit").c_str(), stdout);
    return kExitOk;
  }
  if (!first.empty() && first[0] != '-' && std::find(names.begin(), names.end(), first) == names.end()) {
    return usage_error(fmt::format("unknown command '{}'; the commands are {}", first, commands));
  }
  return std::nullopt;
}

}  // namespace

CliApp::CliApp() : app("sockit: connect to, listen on and echo over Unix, TCP and UDP sockets", "sockit") {
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("sockit ") + SOCKIT_VERSION, "Print the version and exit");
  app.footer(std::string("Run 'sockit COMMAND --help' (or 'sockit help COMMAND') for a command's options and\n"
                         "examples.\n\n") +
             kAddressHelp);
  commands = {add_connect_command(app), add_listen_command(app), add_echo_command(app), add_relay_command(app),
              add_probe_command(app),   add_send_fd_command(app), add_recv_fd_command(app),
              add_inspect_command(app),
              add_bench_command(app),
              add_load_command(app)};
}

std::optional<int> parse_command_line(CliApp& cli, int argc, char** argv) {
  CLI::App& app = cli.app;
  if (auto status = handle_top_level(app, argc, argv)) return *status;
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    const std::string command = command_in(app, argc, argv);
    if (auto hint = nc_habit(e, argc, argv); !hint.empty()) {
      fmt::print(stderr, "sockit: {} takes one address; did you mean {}?\n", command, hint);
      std::fflush(stderr);
      return kExitUsage;
    }
    if (command.empty() && std::string_view(e.what()) == "A subcommand is required") {
      return usage_error(fmt::format("a command is required: {}", joined(command_names(app))));
    }
    return usage_error(house_style(e.what()), command);
  }
  return std::nullopt;
}


const Command* chosen_command(const CliApp& cli) {
  for (const Command& command : cli.commands) {
    if (command.app->parsed()) return &command;
  }
  return nullptr;
}

}  // namespace sockit::cli
