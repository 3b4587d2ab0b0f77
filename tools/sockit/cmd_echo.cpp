// `sockit echo ADDR`: an echo server for every transport, for trying clients out
// and for tests. The engine is in echo_connections.cpp / echo_datagram.cpp.
#include <fmt/core.h>
#include <signal.h>

#include <cstdio>
#include <memory>
#include <string>

#include "address_arg.hpp"
#include "commands.hpp"
#include "echo_server.hpp"
#include "errors.hpp"
#include "log.hpp"
#include "signals.hpp"

namespace sockit::cli {
namespace {

struct EchoArgs {
  std::string address;
  std::size_t max_connections = 1024;
};

std::string_view signal_name(int signal) {
  switch (signal) {
    case SIGINT:
      return "SIGINT";
    case SIGTERM:
      return "SIGTERM";
    default:
      return "a signal";
  }
}

// "1 connection", "2 connections": the summary is read by people.
std::string count(std::uint64_t n, std::string_view noun) {
  return fmt::format("{} {}{}", n, noun, n == 1 ? "" : "s");
}

void print_summary(int signal, const EchoStats& stats, bool datagram) {
  std::string counts = datagram ? count(stats.datagrams, "datagram") : count(stats.connections, "connection");
  if (stats.refused > 0) counts += fmt::format(" ({} refused over --max-conns)", stats.refused);
  fmt::print(stderr, "sockit: echo stopped by {}: {}, {} bytes in, {} bytes out\n", signal_name(signal),
             counts, stats.bytes_in, stats.bytes_out);
  std::fflush(stderr);
}

int run_echo(const EchoArgs& args) {
  auto address = parse_address_arg(args.address);
  if (!address) return kExitUsage;
  // Before the socket exists, so no signal can arrive while nothing is watching for it.
  auto signals = open_stop_signals();
  if (!signals) {
    print_error("echo", args.address, "signalfd", signals.error());
    return kExitFailure;
  }

  EchoStats stats;
  Result<int> stopped_by = 0;
  if (address->is_datagram()) {
    auto socket = DatagramSocket::bind(*address);
    if (!socket) {
      print_error("echo", args.address, socket.error());
      return kExitFailure;
    }
    if (auto local = socket->local_address(); local) announce_listening(*local);
    stopped_by = serve_echo_datagrams(*socket, signals->get(), stats);
  } else {
    auto listener = listen(*address);
    if (!listener) {
      print_error("echo", args.address, listener.error());
      return kExitFailure;
    }
    if (auto local = listener->local_address(); local) announce_listening(*local);
    stopped_by = serve_echo_connections(*listener, signals->get(), {args.max_connections}, stats);
  }  // the Listener is gone here, and with it the Unix socket file

  if (!stopped_by) {
    print_error("echo", args.address, "poll", stopped_by.error());
    return kExitFailure;
  }
  print_summary(*stopped_by, stats, address->is_datagram());
  return kExitOk;
}

}  // namespace

Command add_echo_command(CLI::App& parent) {
  auto args = std::make_shared<EchoArgs>();
  CLI::App* app = parent.add_subcommand("echo", "Run an echo server on ADDR (any transport)");
  app->add_option("ADDR", args->address, "Address to serve on")->required();
  app->add_option("--max-conns", args->max_connections,
                  "Connections served at once; more are accepted and closed at once (default 1024)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 20));
  add_verbose_flag(*app);
  app->footer(std::string("Sends back every byte (stream), record (unix-seqpacket:) or datagram (udp://,\n"
                          "unix-dgram:) it receives. Prints 'sockit: listening on ADDR' on stderr once\n"
                          "bound (with the real port for port 0). SIGINT/SIGTERM stop it cleanly: it\n"
                          "prints a one-line summary on stderr, removes its Unix socket file, exits 0.\n"
                          "A client that does not read its echo is not read from while 1 MiB waits for it.\n"
                          "\n"
                          "Examples:\n"
                          "  sockit echo unix:/tmp/echo.sock\n"
                          "  sockit echo tcp://127.0.0.1:0        # prints the port it got\n"
                          "  sockit echo udp://[::1]:9000\n"
                          "  sockit echo unix-seqpacket:/tmp/records.sock --max-conns 10\n"
                          "\n") +
              kAddressHelp);
  return {app, [args] { return run_echo(*args); }};
}

}  // namespace sockit::cli
