// `sockit inspect`: the machine's sockets like `ss -a -p -i`, read from the kernel
// through sock_diag netlink (libsockit's diag module), each with the processes
// holding it, and a warnings section for the trouble an operator looks for:
// CLOSE-WAIT connections, full accept queues, processes near their descriptor
// limit, listeners on wildcard addresses.
//
// Filters narrow the listing (and the warnings with it). --watch repeats it every
// SECONDS until --count snapshots or SIGINT/SIGTERM.
#include <chrono>
#include <ctime>
#include <span>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include <fmt/core.h>

#include "commands.hpp"
#include "errors.hpp"
#include "inspect_output.hpp"
#include "inspect_snapshot.hpp"
#include "log.hpp"
#include "option_checks.hpp"
#include "signals.hpp"
#include "stdio.hpp"

namespace sockit::cli {
namespace {

struct InspectArgs {
  bool unix_only = false;
  bool tcp_only = false;
  bool udp_only = false;
  int pid = 0;
  bool listening = false;
  std::vector<std::string> states;
  int port = -1;
  std::string path;
  bool path_given = false;
  bool json = false;
  double watch_seconds = 0;
  std::uint64_t count = 0;
};

int inspect_usage(std::string_view why) {
  fmt::print(stderr, "sockit: inspect: {}; see 'sockit inspect --help'\n", why);
  std::fflush(stderr);
  return kExitUsage;
}

constexpr const char* kStateNames =
    "established, syn-sent, syn-recv, fin-wait-1, fin-wait-2, time-wait, close-wait, last-ack, "
    "listen, closing, unconn (or close)";

// The filter the options ask for, or a usage error's exit status.
std::variant<InspectFilter, int> filter_of(const InspectArgs& args) {
  InspectFilter filter;
  if (args.unix_only || args.tcp_only || args.udp_only) {
    filter.unix_sockets = args.unix_only;
    filter.tcp = args.tcp_only;
    filter.udp = args.udp_only;
  }
  if (args.port >= 0) {
    if (!filter.tcp && !filter.udp)
      return inspect_usage("--port applies to TCP and UDP sockets, not to --unix");
    if (args.path_given) return inspect_usage("--port (TCP/UDP) and --path (Unix) select different sockets");
    filter.port = static_cast<std::uint16_t>(args.port);
  }
  if (args.path_given) {
    if (!filter.unix_sockets) return inspect_usage("--path applies to Unix sockets, not to --tcp or --udp");
    filter.path = args.path;
  }
  for (const std::string& text : args.states) {
    const auto state = diag::parse_state(text);
    if (!state)
      return inspect_usage(fmt::format("--state: unknown state '{}' (one of {})", text, kStateNames));
    filter.states.push_back(*state);
  }
  if (args.pid > 0) filter.pid = args.pid;
  filter.listening = args.listening;
  if (args.count > 0 && args.watch_seconds == 0) return inspect_usage("--count needs --watch");
  return filter;
}

std::string clock_text() {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  ::localtime_r(&now, &local);
  return fmt::format("{:02}:{:02}:{:02}", local.tm_hour, local.tm_min, local.tm_sec);
}

enum class Printed { ok, stdout_closed, failed };

Printed print_snapshot(const InspectArgs& args, const InspectFilter& filter, bool first) {
  auto snapshot = take_snapshot(filter);
  if (!snapshot) {
    if (snapshot.error() == errc::invalid_argument && filter.pid) {
      fmt::print(stderr, "sockit: inspect: no process with pid {} (or it exited)\n", *filter.pid);
    } else if (snapshot.error() == std::errc::permission_denied && filter.pid) {
      fmt::print(stderr, "sockit: inspect: pid {}: its descriptors cannot be read: permission denied\n",
                 *filter.pid);
    } else {
      fmt::print(stderr, "sockit: inspect: sock_diag netlink: {}\n", describe(snapshot.error()));
    }
    std::fflush(stderr);
    return Printed::failed;
  }
  note("inspect: {} sockets from sock_diag, {} shown; {} processes read", snapshot->sockets_dumped,
       snapshot->rows.size(), snapshot->processes_read);
  if (first && snapshot->unreadable_processes > 0) {
    fmt::print(stderr,
               "sockit: inspect: the descriptors of {} process{} could not be read (permission denied): "
               "their sockets show no process\n",
               snapshot->unreadable_processes, snapshot->unreadable_processes == 1 ? "" : "es");
  }
  if (first && snapshot->truncated) {
    fmt::print(stderr, "sockit: inspect: /proc walk stopped at its bound: some owners are missing\n");
  }
  std::fflush(stderr);
  std::string text = args.json ? format_json(*snapshot) : format_table(*snapshot);
  if (!args.json && args.watch_seconds > 0)
    text = fmt::format("{}# {}\n", first ? "" : "\n", clock_text()) + text;
  auto written = write_all(kStdout, std::as_bytes(std::span(text.data(), text.size())));
  if (written) return Printed::ok;
  if (written.error() == std::errc::broken_pipe) return Printed::stdout_closed;
  fmt::print(stderr, "sockit: inspect: write stdout: {}\n", describe(written.error()));
  return Printed::failed;
}

int run_inspect(const InspectArgs& args) {
  auto parsed = filter_of(args);
  if (const int* status = std::get_if<int>(&parsed)) return *status;
  const InspectFilter& filter = std::get<InspectFilter>(parsed);
  if (args.watch_seconds == 0) {
    const Printed printed = print_snapshot(args, filter, true);
    return printed == Printed::failed ? kExitFailure : kExitOk;
  }
  auto signals = open_stop_signals();
  if (!signals) {
    fmt::print(stderr, "sockit: inspect: signalfd: {}\n", describe(signals.error()));
    return kExitFailure;
  }
  const auto interval = std::chrono::milliseconds(static_cast<long long>(args.watch_seconds * 1000));
  for (std::uint64_t round = 0; args.count == 0 || round < args.count; ++round) {
    if (round > 0) {
      auto signal = wait_for_signal(signals->get(), interval);
      if (!signal) {
        fmt::print(stderr, "sockit: inspect: poll: {}\n", describe(signal.error()));
        return kExitFailure;
      }
      if (*signal != 0) break;  // SIGINT/SIGTERM: a normal end
    }
    const Printed printed = print_snapshot(args, filter, round == 0);
    if (printed == Printed::failed) return kExitFailure;
    if (printed == Printed::stdout_closed) break;
  }
  return kExitOk;
}

}  // namespace

Command add_inspect_command(CLI::App& parent) {
  auto args = std::make_shared<InspectArgs>();
  CLI::App* app = parent.add_subcommand(
      "inspect", "List sockets with their processes and flag trouble (like ss -api; via sock_diag netlink)");
  app->add_flag("--unix", args->unix_only, "Unix sockets (with --tcp/--udp: those too; default: all kinds)");
  app->add_flag("--tcp", args->tcp_only, "TCP sockets");
  app->add_flag("--udp", args->udp_only, "UDP sockets");
  app->add_option("--pid", args->pid, "Only the sockets process PID holds")
      ->transform(whole_in(1, 4'194'304, "a process id"));
  app->add_flag("-l,--listening", args->listening, "Only listeners and bound datagram sockets with no peer");
  app->add_option("--state", args->states,
                  "Only sockets in STATE (repeatable): established, close-wait, listen, ...");
  app->add_option("--port", args->port, "Only TCP/UDP sockets with this local or peer port")
      ->transform(whole_in(0, 65535, "a port"));
  app->add_option("--path", args->path, "Only Unix sockets whose name contains SUBSTR (@name for abstract)")
      ->each([args](const std::string&) { args->path_given = true; });
  app->add_flag("--json", args->json, "One JSON object per snapshot (one line each) instead of the table");
  app->add_option("--watch", args->watch_seconds, "Repeat every SECONDS until --count or SIGINT")
      ->transform(seconds_in(0.1, 86400));
  app->add_option("--count", args->count, "With --watch: stop after N snapshots")
      ->transform(whole_in(1, 1'000'000, "a number of snapshots"));
  add_verbose_flag(*app);
  app->footer(
      "Columns: Netid (u_str/u_dgr/u_seq/tcp/udp), State, Recv-Q and Send-Q (for a listener:\n"
      "connections waiting to be accepted and the backlog maximum), Local and Peer (a Unix\n"
      "socket's path, or @name for an abstract one), Inode, Process (PID/command of every\n"
      "process holding it, from /proc/PID/fd), Details (backlog, the Unix peer's inode and\n"
      "process, tcp_info's rtt/rttvar, cwnd, retransmits and delivery rate, UDP drops).\n"
      "\n"
      "Warnings (after the table, and in JSON):\n"
      "  close-wait         the peer closed and the application never closed its end\n"
      "  accept-queue-full  a listener's queue has reached its backlog: it is not accepting\n"
      "  near-fd-limit      a process has 80% or more of its RLIMIT_NOFILE open\n"
      "  wildcard-bind      a listener or UDP socket on 0.0.0.0 or ::, reachable from every interface\n"
      "Without filters every process is checked against its fd limit; with --pid that one;\n"
      "with other filters the processes holding the sockets shown. Processes of other users\n"
      "cannot be read unless root: how many is said on stderr, and their sockets show '-'.\n"
      "\n"
      "Examples:\n"
      "  sockit inspect                          every socket, and the warnings\n"
      "  sockit inspect --tcp --state close-wait connections the application forgot to close\n"
      "  sockit inspect -l --tcp --port 8080     who listens on port 8080, and its backlog\n"
      "  sockit inspect --unix --path /run/      Unix sockets under /run\n"
      "  sockit inspect --pid 1234 --json        one process's sockets, for a script\n"
      "  sockit inspect --watch 2 --count 10 --tcp\n"
      "\n"
      "Exit status: 0 success, 1 runtime error (no such --pid, netlink refused), 2 usage error.\n");
  return {app, [args] { return run_inspect(*args); }};
}

}  // namespace sockit::cli
