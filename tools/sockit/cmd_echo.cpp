// `sockit echo ADDR`: an echo server for every transport, for trying clients out
// and for tests. Streams run on net::Server (echo_stream.cpp); seqpacket and
// datagrams on the poll engines of echo_connections.cpp / echo_datagram.cpp
// (echo_server.hpp says why seqpacket is not on the Server yet).
#include <fmt/core.h>
#include <signal.h>

#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "address_arg.hpp"
#include "commands.hpp"
#include "echo_server.hpp"
#include "echo_stream.hpp"
#include "errors.hpp"
#include "log.hpp"
#include "signals.hpp"

namespace sockit::cli {
namespace {

// Connections still open at SIGINT get this long to take their last echo and
// close; then they are reset. Long enough for any client that is reading.
constexpr std::chrono::milliseconds kShutdownGrace{2000};

struct EchoArgs {
  std::string address;
  std::size_t max_connections = 1024;
  std::string backend = "auto";
  unsigned threads = 1;
  std::string framing = "raw";
  std::size_t max_connections_per_peer = 0;
  double idle_timeout_s = 0;
  std::size_t max_frame = 0;
  double stats_interval_s = 0;
  // Options that only the stream engine implements: refused for other addresses
  // rather than silently ignored.
  std::vector<CLI::Option*> stream_only;
  CLI::Option* max_frame_option = nullptr;
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

// The first line is the same for every engine (tests and scripts/demo.sh read it);
// the stream engine adds detail lines after it.
void print_summary(int signal, const EchoStats& stats, bool datagram) {
  std::string counts = datagram ? count(stats.datagrams, "datagram") : count(stats.connections, "connection");
  if (stats.refused > 0) counts += fmt::format(" ({} refused over --max-conns)", stats.refused);
  fmt::print(stderr, "sockit: echo stopped by {}: {}, {} bytes in, {} bytes out\n", signal_name(signal),
             counts, stats.bytes_in, stats.bytes_out);
  std::fflush(stderr);
}

// Seconds from the command line (fractions allowed); anything above zero is at
// least 1 ms, so "--idle-timeout 0.0001" is not silently "no timeout".
std::chrono::milliseconds to_ms(double seconds) {
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::ceil(seconds * 1000.0)));
}

int usage_error(const EchoArgs& args, std::string_view why) {
  fmt::print(stderr, "sockit: echo {}: {}\n", args.address, why);
  std::fflush(stderr);
  return kExitUsage;
}

// Flag combinations CLI11 cannot check by itself; kExitOk if they make sense.
int check_combinations(const EchoArgs& args, const Address& address) {
  if (!address.is_stream()) {
    for (const CLI::Option* option : args.stream_only) {
      if (option->count() > 0) {
        return usage_error(
            args, fmt::format("{} applies to stream addresses (tcp://, unix:) only", option->get_name()));
      }
    }
  }
  if (args.max_frame_option->count() > 0 && args.framing == "raw") {
    return usage_error(args, "--max-frame needs --framing length or line (raw has no frames)");
  }
  return kExitOk;
}

net::ServerOptions server_options(const EchoArgs& args) {
  net::ServerOptions options;
  options.threads = args.threads;
  options.backend = args.backend;
  options.max_connections = args.max_connections;
  options.max_connections_per_peer = args.max_connections_per_peer;
  options.idle_timeout = to_ms(args.idle_timeout_s);
  net::Framing& framing = options.connection.framing;
  if (args.framing == "length") framing = net::Framing::length_prefix();
  if (args.framing == "line") framing = net::Framing::line();
  if (args.max_frame > 0) framing.max_frame = args.max_frame;
  return options;
}

int run_stream_echo(const EchoArgs& args, const Address& address, int signal_fd) {
  auto server = start_echo_server(address, server_options(args));
  if (!server) {
    print_error("echo", args.address, server.error());
    return kExitFailure;
  }
  announce_listening((*server)->local_address());
  auto stopped_by = wait_for_stop(**server, signal_fd, to_ms(args.stats_interval_s));
  (*server)->shutdown(kShutdownGrace);
  const net::ServerStats stats = (*server)->stats();
  const std::string backend = (*server)->backend();
  server->reset();  // the listener is gone here, and with it the Unix socket file

  if (!stopped_by) {
    print_error("echo", args.address, "poll", stopped_by.error());
    return kExitFailure;
  }
  print_summary(*stopped_by,
                EchoStats{.connections = stats.accepted,
                          .refused = stats.refused_max_connections,
                          .bytes_in = stats.bytes_in,
                          .bytes_out = stats.bytes_out},
                /*datagram=*/false);
  print_final_details(stats, backend, args.threads);
  return kExitOk;
}

int run_record_echo(const EchoArgs& args, const Address& address, int signal_fd) {
  EchoStats stats;
  Result<int> stopped_by = 0;
  if (address.is_datagram()) {
    auto socket = DatagramSocket::bind(address);
    if (!socket) {
      print_error("echo", args.address, socket.error());
      return kExitFailure;
    }
    if (auto local = socket->local_address(); local) announce_listening(*local);
    stopped_by = serve_echo_datagrams(*socket, signal_fd, stats);
  } else {
    auto listener = listen(address);
    if (!listener) {
      print_error("echo", args.address, listener.error());
      return kExitFailure;
    }
    if (auto local = listener->local_address(); local) announce_listening(*local);
    stopped_by = serve_echo_connections(*listener, signal_fd, {args.max_connections}, stats);
  }  // the socket is gone here, and with it the Unix socket file

  if (!stopped_by) {
    print_error("echo", args.address, "poll", stopped_by.error());
    return kExitFailure;
  }
  print_summary(*stopped_by, stats, address.is_datagram());
  return kExitOk;
}

int run_echo(const EchoArgs& args) {
  auto address = parse_address_arg(args.address);
  if (!address) return kExitUsage;
  if (const int status = check_combinations(args, *address); status != kExitOk) return status;
  // Before the socket exists, so no signal can arrive while nothing is watching for
  // it, and before the Server's threads exist, so they inherit the blocked mask.
  auto signals = open_stop_signals();
  if (!signals) {
    print_error("echo", args.address, "signalfd", signals.error());
    return kExitFailure;
  }
  if (address->is_stream()) return run_stream_echo(args, *address, signals->get());
  return run_record_echo(args, *address, signals->get());
}

}  // namespace

Command add_echo_command(CLI::App& parent) {
  auto args = std::make_shared<EchoArgs>();
  CLI::App* app = parent.add_subcommand("echo", "Run an echo server on ADDR (any transport)");
  app->add_option("ADDR", args->address, "Address to serve on")->required();
  app->add_option("--max-conns", args->max_connections,
                  "Connections served at once; more are accepted and closed at once (default 1024)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 20));
  args->stream_only = {
      app->add_option("--backend", args->backend, "Event loop: select, poll, epoll, epoll-et, io_uring, auto")
          ->check(CLI::IsMember({"auto", "select", "poll", "epoll", "epoll-et", "io_uring"})),
      app->add_option("--threads", args->threads, "Worker threads, each with its own event loop (default 1)")
          ->check(CLI::Range(1u, 256u)),
      app->add_option("--framing", args->framing,
                      "raw (bytes as they come), length (4-byte big-endian prefix), line (up to '\\n')")
          ->check(CLI::IsMember({"raw", "length", "line"})),
      app->add_option("--max-conns-per-peer", args->max_connections_per_peer,
                      "Connections per source IP (TCP) or uid (Unix); 0 = no limit (default)"),
      app->add_option("--idle-timeout", args->idle_timeout_s,
                      "Reset a connection that moves no byte for SECONDS (fractions allowed; 0 = never)")
          ->check(CLI::Range(0.0, 86400.0 * 365)),
      app->add_option("--stats-interval", args->stats_interval_s,
                      "Print a line of stats on stderr every SECONDS (0 = off, default)")
          ->check(CLI::Range(0.0, 86400.0)),
  };
  args->max_frame_option =
      app->add_option("--max-frame", args->max_frame,
                      "Largest frame (length/line), in bytes; a larger one closes that connection\n"
                      "(default 16 MiB for length, 64 KiB for line)")
          ->check(CLI::Range(std::size_t{1}, std::size_t{0xffffffff}));
  args->stream_only.push_back(args->max_frame_option);
  add_verbose_flag(*app);
  app->footer(
      std::string("Sends back every byte (stream), record (unix-seqpacket:) or datagram (udp://,\n"
                  "unix-dgram:) it receives. Prints 'sockit: listening on ADDR' on stderr once\n"
                  "bound (with the real port for port 0). SIGINT/SIGTERM stop it cleanly: open\n"
                  "connections get 2 s to take their echo, then it prints a summary on stderr\n"
                  "(streams: one line, then the backend, refusals, closes and messages), removes\n"
                  "its Unix socket file and exits 0.\n"
                  "A client that does not read its echo is not read from while 1 MiB waits for it.\n"
                  "\n"
                  "Streams (tcp://, unix:, abstract) run on sockit's event loop and take every\n"
                  "option above. With --framing length or line each frame is echoed framed the\n"
                  "same way; an unfinished line at the client's end of stream is not echoed.\n"
                  "unix-seqpacket:, udp:// and unix-dgram: keep their own single-threaded engine\n"
                  "and take only --max-conns (seqpacket) and -v; the stream-only options are\n"
                  "refused for them (exit 2).\n"
                  "\n"
                  "Examples:\n"
                  "  sockit echo unix:/tmp/echo.sock\n"
                  "  sockit echo tcp://127.0.0.1:0        # prints the port it got\n"
                  "  sockit echo tcp://:7000 --backend epoll --threads 2 --stats-interval 5\n"
                  "  sockit echo unix:/tmp/lines.sock --framing line --max-frame 4096 --idle-timeout 30\n"
                  "  sockit echo udp://[::1]:9000\n"
                  "  sockit echo unix-seqpacket:/tmp/records.sock --max-conns 10\n"
                  "\n") +
      kAddressHelp);
  return {app, [args] { return run_echo(*args); }};
}

}  // namespace sockit::cli
