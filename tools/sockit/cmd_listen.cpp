// `sockit listen ADDR [--keep] [--exec CMD]`: a server that relays a connection
// with stdin/stdout (nc -l), or with --keep many at once (keep_server.hpp), or
// gives each to a command (--exec). Datagram addresses print what arrives and
// answer the last sender.
#include <fmt/core.h>
#include <poll.h>

#include <cerrno>
#include <memory>
#include <string>

#include "address_arg.hpp"
#include "channel.hpp"
#include "commands.hpp"
#include "connection_note.hpp"
#include "datagram_relay.hpp"
#include "errors.hpp"
#include "exec_session.hpp"
#include "family_flags.hpp"
#include "keep_server.hpp"
#include "log.hpp"
#include "pump.hpp"
#include "relay_options.hpp"
#include "signals.hpp"
#include "unix_file_options.hpp"

namespace sockit::cli {
namespace {

// Each client of --keep is a socket, and with --exec a process and a pidfd: the
// cap keeps them well inside the default limit of 1024 descriptors.
constexpr std::size_t kMaxConnectionsCeiling = 256;

struct ListenArgs {
  std::string address;
  bool keep = false;
  std::size_t max_connections = 16;
  CLI::Option* max_connections_option = nullptr;
  RelayArgs relay;
  UnixFileOptions unix_file;
  UnixFileOptionSet unix_file_options;
  FamilyArgs family;
};

// Waits in poll(2) for a pending connection (true) or a stop signal (false).
Result<bool> wait_for_connection(const Listener& listener, int signal_fd) {
  for (;;) {
    pollfd fds[2] = {{listener.native_handle(), POLLIN, 0}, {signal_fd, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return fail(std::error_code(errno, std::system_category()));
    }
    if (fds[1].revents != 0) return false;
    if (fds[0].revents != 0) return true;
  }
}

int serve_datagrams(const Address& address, const ListenArgs& args, const SessionOptions& options,
                    int signal_fd) {
  const std::string& text = args.address;
  auto socket = DatagramSocket::bind(address, {.unix_file = args.unix_file, .family = args.family.family()});
  if (!socket) {
    print_error("listen", text, socket.error());
    return kExitFailure;
  }
  if (auto local = socket->local_address(); local) announce_listening(*local);
  auto end = relay_datagrams(*socket, options, signal_fd);
  if (!end) {
    print_error("listen", text, end.error().detail, end.error().ec);
    return kExitFailure;
  }
  return finish_relay("listen", text, *end, options);
}

// Without --keep: one connection, relayed with stdio or given to --exec.
int serve_one(Listener& listener, const ListenArgs& args, const SessionOptions& options, int signal_fd) {
  for (;;) {
    auto ready = wait_for_connection(listener, signal_fd);
    if (!ready) {
      print_error("listen", args.address, "poll", ready.error());
      return kExitFailure;
    }
    if (!*ready) return kExitOk;  // SIGINT/SIGTERM
    auto channel = accept_channel(listener, try_once(), false);
    if (!channel) {
      if (would_block(channel.error())) continue;  // the connection went away before accept
      print_error("listen", args.address, "accept", channel.error());
      return kExitFailure;
    }
    note_connection_from(*channel);
    if (args.relay.has_exec()) {
      return run_exec_once(std::move(*channel), args.relay.exec, options.quit_after, signal_fd, "listen",
                           args.address);
    }
    StdinState stdin_state;
    const PumpOptions pump_options{options, signal_fd};
    auto end = pump(std::move(*channel), stdin_state, pump_options);
    if (!end) {
      print_error("listen", args.address, end.error().detail, end.error().ec);
      return kExitFailure;
    }
    note("connection closed");
    return finish_relay("listen", args.address, *end, options);
  }
}

int check_listen_options(const ListenArgs& args, const Address& address) {
  if (auto why = family_misuse(args.family, address); !why.empty()) {
    return usage_error("listen", args.address, why);
  }
  if (int status = check_relay_options(args.relay, "listen", args.address, address.is_datagram());
      status != kExitOk) {
    return status;
  }
  if (address.is_datagram() && (args.keep || args.max_connections_option->count() > 0)) {
    return usage_error("listen", args.address,
                       fmt::format("{} applies to connections (tcp://, unix:, unix-seqpacket:), not to datagrams "
                                   "(a datagram listener serves every sender until interrupted)",
                                   args.keep ? "--keep" : "--max-conns"));
  }
  if (args.max_connections_option->count() > 0 && !args.keep) {
    return usage_error("listen", args.address, "--max-conns needs --keep (without it one client is served)");
  }
  return kExitOk;
}

int run_listen(const ListenArgs& args) {
  auto address = parse_address_arg(args.address);
  if (!address) return kExitUsage;
  if (int status = check_listen_options(args, *address); status != kExitOk) return status;
  const SessionOptions options = session_options(args.relay);
  auto signals = open_stop_signals();
  if (!signals) {
    print_error("listen", args.address, "signalfd", signals.error());
    return kExitFailure;
  }
  if (auto why = args.unix_file_options.misuse(*address); !why.empty()) {
    return usage_error("listen", args.address, why);
  }
  if (address->is_datagram()) return serve_datagrams(*address, args, options, signals->get());

  auto listener = listen(*address, {.family = args.family.family(), .unix_file = args.unix_file});
  if (!listener) {
    print_error("listen", args.address, listener.error());
    return kExitFailure;
  }
  if (auto local = listener->local_address(); local) announce_listening(*local);
  if (!args.keep) return serve_one(*listener, args, options, signals->get());
  const KeepOptions keep{args.max_connections, options, args.relay.exec, signals->get()};
  return serve_keep(*listener, keep, args.address);
}

}  // namespace

Command add_listen_command(CLI::App& parent) {
  auto args = std::make_shared<ListenArgs>();
  CLI::App* app =
      parent.add_subcommand("listen", "Accept a connection on ADDR and relay stdin/stdout (like nc -l)");
  app->add_option("ADDR", args->address, "Address to listen on")->required();
  app->add_flag("-k,--keep", args->keep,
                "Serve clients at the same time until interrupted (stdin goes to all of them, like ncat -k)");
  args->max_connections_option =
      app->add_option("--max-conns", args->max_connections,
                      "With --keep: clients at once (default 16); more are accepted and closed at once")
          ->check(CLI::Range(std::size_t{1}, kMaxConnectionsCeiling));
  add_relay_options(*app, args->relay);
  add_family_flags(*app, args->family, FamilyRole::server);
  args->unix_file_options = add_unix_file_options(*app, args->unix_file);
  add_verbose_flag(*app);
  app->footer(
      std::string("Prints 'sockit: listening on ADDR' on stderr once bound (with the real port for\n"
                  "port 0). One connection is relayed: the peer's bytes to stdout, stdin to the peer.\n"
                  "At the end of stdin the sending side is shut down; when both sides are done the\n"
                  "command exits 0.\n"
                  "--keep serves clients at the same time (up to --max-conns, more are closed at\n"
                  "once and counted with -v): each client's bytes go to stdout, stdin goes to every\n"
                  "connected client (like ncat -k); it runs until interrupted.\n"
                  "--exec CMD gives each client its own /bin/sh -c CMD with the socket as stdin and\n"
                  "stdout (SOCKIT_PEER, SOCKIT_LOCAL set); when it exits the socket is half-closed.\n"
                  "--hex traces the bytes on stderr: '>' sent, '<' received (#N: the connection).\n"
                  "--idle-timeout: no byte either way for that long ends the connection (exit 1;\n"
                  "with --keep only that client). --quit-after: stop that long after stdin ends.\n"
                  "For udp:// and unix-dgram: every datagram received is written to stdout and\n"
                  "stdin is sent to the last sender; it runs until interrupted.\n"
                  "SIGINT/SIGTERM stop it cleanly (exit 0), end --exec commands (SIGTERM, 2 s,\n"
                  "SIGKILL) and remove the Unix socket file.\n"
                  "With -v each connection is reported; on Unix sockets with the peer's pid, uid\n"
                  "and gid as the kernel saw them at connect (SO_PEERCRED).\n") +
      kServerFamilyHelp + std::string("\n") + kUnixFileHelp +
      std::string("\n"
                  "Examples:\n"
                  "  sockit listen unix:/tmp/demo.sock > received.bin\n"
                  "  echo 'hello, client' | sockit listen tcp://127.0.0.1:0\n"
                  "  sockit listen --keep --max-conns 4 unix:@my-service > all-clients.log\n"
                  "  sockit listen --keep --exec 'tr a-z A-Z' tcp://:7000\n"
                  "  sockit listen --keep -v --exec 'echo \"hello $SOCKIT_PEER\"' unix:/tmp/greet.sock\n"
                  "  sockit listen --hex --idle-timeout 30 tcp://127.0.0.1:8080\n"
                  "  sockit listen udp://127.0.0.1:9000\n"
                  "  sockit listen -6 tcp://localhost:8080      # [::1]:8080 where localhost is both\n"
                  "  sockit listen unix:/run/demo/app.sock --create-parent --mode 660 --group www-data -v\n"
                  "\n") +
      kAddressHelp);
  return {app, [args] { return run_listen(*args); }};
}

}  // namespace sockit::cli
