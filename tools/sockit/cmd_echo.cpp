// `sockit echo ADDR`: an echo server for every transport, for trying clients out
// and for tests. Streams and unix-seqpacket run on net::Server (echo_stream.cpp;
// seqpacket connections keep records whole in the Connection's record mode);
// datagrams on net::DatagramEndpoint worker loops (echo_datagram.cpp).
#include <fmt/core.h>
#include <poll.h>
#include <signal.h>
#include <sys/select.h>

#include <cmath>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "address_arg.hpp"
#include "bind_retry_option.hpp"
#include "commands.hpp"
#include "echo_datagram.hpp"
#include "echo_server.hpp"
#include "echo_stream.hpp"
#include "errors.hpp"
#include "family_flags.hpp"
#include "log.hpp"
#include "metrics_server.hpp"
#include "option_checks.hpp"
#include "signals.hpp"
#include "unix_file_options.hpp"

namespace sockit::cli {
namespace {

// Connections still open at SIGINT get --drain seconds (default 2) to take their
// last echo and close; then they are reset. Long enough for any client that is
// reading; a second SIGINT/SIGTERM resets them at once.
constexpr double kDefaultDrainSeconds = 2;

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
  double drain_s = kDefaultDrainSeconds;
  // Options about connections: refused for datagram addresses rather than
  // silently ignored.
  std::vector<CLI::Option*> connection_only;
  CLI::Option* max_frame_option = nullptr;
  CLI::Option* framing_option = nullptr;  // seqpacket: records are the framing
  UnixFileOptions unix_file;
  UnixFileOptionSet unix_file_options;
  double bind_retry_s = kDefaultBindRetrySeconds;
  FamilyArgs family;
  std::string metrics;  // --metrics ADDR (empty: none)
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
  if (stats.refused > 0) counts += fmt::format(" ({} refused)", stats.refused);
  fmt::print(stderr, "sockit: echo stopped by {}: {}, {} bytes in, {} bytes out\n", signal_name(signal),
             counts, stats.bytes_in, stats.bytes_out);
  std::fflush(stderr);
}

// The features the backend could not use (io_uring on an older kernel), each with
// the kernel's reason: a benchmark run on a degraded backend must say so, with -v
// (engine internals mean nothing to someone trying a client out). Last, so the
// lines before it read the same on every machine.
void print_backend_fallbacks(const std::vector<std::string>& fallbacks) {
  if (fallbacks.empty() || !verbose()) return;
  std::string joined;
  for (const std::string& fallback : fallbacks) joined += (joined.empty() ? "" : "; ") + fallback;
  fmt::print(stderr, "sockit:   backend fallbacks: {}\n", joined);
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

// Datagrams run on event loops too and take the loop options (--backend, --threads,
// --stats-interval); --max-frame is the largest datagram echoed. Connections,
// their limits and framings mean nothing to them.
int check_datagram_combinations(const EchoArgs& args, const Address& address) {
  if (args.framing_option->count() > 0) {
    return usage_error(args, "--framing does not apply to datagrams (each datagram is one message)");
  }
  for (const CLI::Option* option : args.connection_only) {
    if (option->count() > 0) {
      return usage_error(args, fmt::format("{} applies to connections (tcp://, unix:, unix-seqpacket:), "
                                           "not to datagrams",
                                           option->get_name()));
    }
  }
  if (args.threads > 1 && address.transport() == Transport::unix_dgram) {
    return usage_error(args,
                       "--threads needs udp:// (one SO_REUSEPORT socket per thread); a unix-dgram: "
                       "address is one socket, served by one thread");
  }
  if (args.max_frame > kMaxDatagramCeiling) {
    return usage_error(args,
                       fmt::format("--max-frame for datagrams is at most {} (16 MiB)", kMaxDatagramCeiling));
  }
  return kExitOk;
}

// Flag combinations CLI11 cannot check by itself; kExitOk if they make sense.
int check_combinations(const EchoArgs& args, const Address& address) {
  if (auto why = family_misuse(args.family, address); !why.empty()) return usage_error(args, why);
  // Seqpacket runs on the same Server as streams and takes their options, but each
  // record is one message: a framing would have nothing to do, and --max-frame
  // bounds a record.
  const bool seqpacket = address.transport() == Transport::unix_seqpacket;
  if (seqpacket && args.framing_option->count() > 0) {
    return usage_error(args, "--framing does not apply to unix-seqpacket: (each record is one message)");
  }
  if (address.is_datagram()) return check_datagram_combinations(args, address);
  if (args.max_frame_option->count() > 0 && args.framing == "raw" && !seqpacket) {
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
  options.listen.unix_file = args.unix_file;
  options.listen.family = args.family.family();
  options.listen.bind_retry_for = bind_retry_duration(args.bind_retry_s);
  net::Framing& framing = options.connection.framing;
  if (args.framing == "length") framing = net::Framing::length_prefix();
  if (args.framing == "line") framing = net::Framing::line();
  if (args.max_frame > 0) framing.max_frame = args.max_frame;
  return options;
}

int run_stream_echo(const EchoArgs& args, const Address& address, const std::optional<Address>& metrics_at,
                    int signal_fd) {
  const net::ServerOptions options = server_options(args);
  std::shared_ptr<EchoLimits> log_limits;
  if (verbose()) {
    log_limits = std::make_shared<EchoLimits>(EchoLimits{.max_connections = options.max_connections,
                                                         .max_connections_per_peer = args.max_connections_per_peer,
                                                         .idle_timeout_s = args.idle_timeout_s,
                                                         .max_frame = options.connection.framing.max_frame});
  }
  auto server = start_echo_server(address, options, log_limits);
  if (!server) {
    print_error("echo", args.address, server.error());
    return kExitFailure;
  }
  // select watches descriptors below FD_SETSIZE only: the server lowered the cap to
  // what fits rather than accept connections it cannot serve. Lowered, not
  // refused: how many descriptors are free below 1024 is a fact of the process at
  // run time that nobody can be asked to compute, so a refusal would make every
  // select run need a hand-tuned --max-conns. The excess is refused and counted.
  if (const std::size_t cap = (*server)->max_connections(); cap < args.max_connections) {
    fmt::print(stderr,
               "sockit: echo {}: --backend {} watches descriptors below {} only: --max-conns lowered from {} "
               "to {}\n",
               args.address, (*server)->backend(), FD_SETSIZE, args.max_connections, cap);
    std::fflush(stderr);
  }
  std::unique_ptr<MetricsServer> metrics;
  if (metrics_at) {
    metrics = serve_metrics("echo", args.metrics, *metrics_at,
                            [&echo = **server](MetricsSnapshot& out) { echo.append_metrics(out); });
    if (!metrics) {
      (*server)->shutdown(std::chrono::milliseconds(0));
      return kExitFailure;
    }
  }
  announce_listening((*server)->local_address());
  auto stopped_by = wait_for_stop(**server, signal_fd, to_ms(args.stats_interval_s));
  if (metrics) metrics->shutdown();  // before the server it reads
  // A second stop signal during the drain ends it: whoever presses Ctrl-C twice
  // wants out now, not after every slow client finished.
  int second_signal = 0;
  (*server)->shutdown(to_ms(args.drain_s), [&] {
    pollfd ready{signal_fd, POLLIN, 0};
    if (::poll(&ready, 1, 0) > 0) second_signal = take_signal(signal_fd);
    return second_signal != 0;
  });
  if (second_signal != 0) {
    print_note(fmt::format("second {}: open connections reset without waiting for --drain",
                           signal_name(second_signal)));
  }
  const net::ServerStats stats = (*server)->stats();
  const std::string backend = (*server)->backend();
  const std::vector<std::string> fallbacks = (*server)->backend_fallbacks();
  server->reset();  // the listener is gone here, and with it the Unix socket file

  if (!stopped_by) {
    print_error("echo", args.address, "poll", stopped_by.error());
    return kExitFailure;
  }
  print_summary(*stopped_by,
                EchoStats{.connections = stats.accepted,
                          .refused = stats.refused_max_connections + stats.refused_per_peer +
                                     stats.refused_rate + stats.refused_policy + stats.shed_no_descriptors,
                          .bytes_in = stats.bytes_in,
                          .bytes_out = stats.bytes_out},
                /*datagram=*/false);
  print_final_details(stats, backend, args.threads);
  print_backend_fallbacks(fallbacks);
  print_engine_line("sockit:   engine:", stats.loops);
  return kExitOk;
}

int run_datagram_echo(const EchoArgs& args, const Address& address, int signal_fd) {
  const DatagramEchoOptions options{
      .backend = args.backend,
      .threads = args.threads,
      .max_datagram_size = args.max_frame > 0 ? args.max_frame : kDefaultMaxDatagram,
      .unix_file = args.unix_file,
      .bind_retry_for = bind_retry_duration(args.bind_retry_s),
      .family = args.family.family()};
  auto echo = DatagramEcho::start(address, options);
  if (!echo) {
    print_error("echo", args.address, echo.error());
    return kExitFailure;
  }
  announce_listening((*echo)->local_address());
  auto stopped_by = (*echo)->wait_for_stop(signal_fd, to_ms(args.stats_interval_s));
  const DatagramEchoStats stats = (*echo)->stop();  // the sockets are closed, a Unix socket file removed

  if (!stopped_by) {
    print_error("echo", args.address, (*echo)->failed_in(), stopped_by.error());
    return kExitFailure;
  }
  print_summary(
      *stopped_by,
      EchoStats{.datagrams = stats.datagrams_in, .bytes_in = stats.bytes_in, .bytes_out = stats.bytes_out},
      /*datagram=*/true);
  print_datagram_details(stats, (*echo)->backend(), options.threads, options.max_datagram_size);
  return kExitOk;
}

int run_echo(const EchoArgs& args) {
  auto address = parse_address_arg(args.address);
  if (!address) return kExitUsage;
  if (const int status = check_combinations(args, *address); status != kExitOk) return status;
  if (auto why = args.unix_file_options.misuse(*address); !why.empty()) return usage_error(args, why);
  std::optional<Address> metrics_at;
  if (!args.metrics.empty()) {
    metrics_at = metrics_address("echo", args.address, args.metrics);
    if (!metrics_at) return kExitUsage;
  }
  // Before the socket exists, so no signal can arrive while nothing is watching for
  // it, and before the Server's threads exist, so they inherit the blocked mask.
  auto signals = open_stop_signals();
  if (!signals) {
    print_error("echo", args.address, "signalfd", signals.error());
    return kExitFailure;
  }
  // Streams and seqpacket: connections, on net::Server.
  if (!address->is_datagram()) return run_stream_echo(args, *address, metrics_at, signals->get());
  return run_datagram_echo(args, *address, signals->get());
}

}  // namespace

Command add_echo_command(CLI::App& parent) {
  auto args = std::make_shared<EchoArgs>();
  CLI::App* app = parent.add_subcommand("echo", "Run an echo server on ADDR (any transport)");
  app->add_option("ADDR", args->address, "Address to serve on")->required();
  args->connection_only.push_back(
      app->add_option("--max-conns", args->max_connections,
                      "Connections served at once; more are accepted and closed at once (default 1024)")
          ->transform(whole_in(1, std::uint64_t{1} << 20, "a number of connections")));
  app->add_option("--backend", args->backend, "Event loop: select, poll, epoll, epoll-et, io_uring, auto")
      ->check(CLI::IsMember({"auto", "select", "poll", "epoll", "epoll-et", "io_uring"}));
  app->add_option("--threads", args->threads,
                  "Worker threads, each with its own event loop (default 1; udp://: one\n"
                  "SO_REUSEPORT socket each; unix-dgram: one thread only)")
      ->transform(whole_in(1, 256, "a number of threads"));
  args->framing_option =
      app->add_option("--framing", args->framing,
                      "raw (bytes as they come), length (4-byte big-endian prefix), line (up to '\\n')")
          ->check(CLI::IsMember({"raw", "length", "line"}));
  args->connection_only.push_back(
      app->add_option("--max-conns-per-peer", args->max_connections_per_peer,
                      "Connections per source IP (TCP) or uid (Unix); 0 = no limit (default)")
          ->transform(whole_in(0, std::uint64_t{1} << 20, "a number of connections")));
  args->connection_only.push_back(
      app->add_option("--idle-timeout", args->idle_timeout_s,
                      "Reset a connection that makes no progress for SECONDS: progress is a whole\n"
                      "message in (raw: any bytes; length/line: a complete frame; seqpacket: a record)\n"
                      "or echo bytes the client took, so a client trickling an unfinished frame is\n"
                      "reset, a slow reader of a long echo is not. The reset comes 1 to 1.125 x SECONDS\n"
                      "after the last progress (fractions allowed; 0 = never)")
          ->transform(seconds_in(0, 86400.0 * 365)));
  args->connection_only.push_back(
      app->add_option("--drain", args->drain_s,
                      "At SIGINT/SIGTERM, SECONDS for open connections to take their last echo and\n"
                      "close before they are reset (default 2; a second signal resets them at once)")
          ->transform(seconds_in(0, 3600)));
  app->add_option("--stats-interval", args->stats_interval_s,
                  "Print a line of stats on stderr every SECONDS (0 = off, default)")
      ->transform(seconds_in(0, 86400));
  args->connection_only.push_back(add_metrics_option(*app, args->metrics));
  args->max_frame_option =
      app->add_option("--max-frame", args->max_frame,
                      "Largest frame (length/line) or record (unix-seqpacket:), in bytes; a larger\n"
                      "one closes that connection (default 16 MiB for length and records, 64 KiB for line).\n"
                      "udp://, unix-dgram: the largest datagram echoed (default 64 KiB, at most 16 MiB);\n"
                      "a larger one is counted as truncated and not echoed")
          ->transform(whole_in(1, 0xffffffff, "a size in bytes"));
  add_family_flags(*app, args->family, FamilyRole::server);
  args->unix_file_options = add_unix_file_options(*app, args->unix_file);
  add_bind_retry_option(*app, args->bind_retry_s);
  add_verbose_flag(*app);
  app->footer(
      std::string("Sends back every byte (stream), record (unix-seqpacket:) or datagram (udp://,\n"
                  "unix-dgram:) it receives. Prints 'sockit: listening on ADDR' on stderr once\n"
                  "bound (with the real port for port 0). SIGINT/SIGTERM stop it cleanly: open\n"
                  "connections get 2 s (--drain) to take their echo (a second signal ends that at\n"
                  "once), then it prints a summary on stderr\n"
                  "(streams, seqpacket: one line, then the backend, refusals, closes, messages and,\n"
                  "with -v, any backend fallbacks), removes its Unix socket file and exits 0.\n"
                  "With -v, streams and seqpacket print a line per connection: accepted (with the\n"
                  "peer; Unix: its pid, uid, gid), refused over a limit, idle reset, frame too large,\n"
                  "closed, with byte counts. --backend select watches descriptors below 1024 only:\n"
                  "it lowers --max-conns to fit, with a warning, and refuses the excess.\n"
                  "A client that does not read its echo is not read from while 1 MiB waits for it.\n"
                  "--metrics ADDR serves the server's counters (connections by outcome, live ones,\n"
                  "bytes, the loops' figures, TCP RTT of the live connections) as GET /metrics in\n"
                  "Prometheus's text format, on a loop thread of its own; it prints 'sockit: metrics\n"
                  "on ADDR (GET /metrics)' first (the real port for port 0).\n"
                  "\n"
                  "Streams (tcp://, unix:, abstract) run on sockit's event loop and take every\n"
                  "option above. With --framing length or line each frame is echoed framed the\n"
                  "same way; an unfinished line at the client's end of stream is not echoed.\n"
                  "unix-seqpacket: runs on the same event loop and takes the same options except\n"
                  "--framing (exit 2): each record comes back as one record, whole, and --max-frame\n"
                  "bounds a record (the sender's socket buffer, ~208 KiB by default, is the real limit).\n"
                  "udp:// and unix-dgram: (path or abstract) run on the same event loops: each\n"
                  "datagram goes back to its sender, whole. They take --backend, --threads (udp://\n"
                  "only: one SO_REUSEPORT socket per thread, the kernel spreads senders across\n"
                  "them), --stats-interval and --max-frame (the largest datagram echoed, 64 KiB by\n"
                  "default; a larger one is counted as truncated, not echoed); the connection\n"
                  "options and --framing are refused (exit 2). A reply that cannot go at once (its\n"
                  "sender is gone or does not read) is dropped and counted; the echo goes on.\n"
                  "Their summary line counts datagrams, then the backend, truncated and dropped.\n") +
      kServerFamilyHelp + std::string("\n") + kUnixFileHelp +
      std::string("\n"
                  "Examples:\n"
                  "  sockit echo unix:/tmp/echo.sock\n"
                  "  sockit echo tcp://127.0.0.1:0        # prints the port it got\n"
                  "  sockit echo tcp://:7000 --backend epoll --threads 2 --stats-interval 5\n"
                  "  sockit echo unix:/tmp/lines.sock --framing line --max-frame 4096 --idle-timeout 30\n"
                  "  sockit echo udp://[::1]:9000\n"
                  "  sockit echo -6 tcp://localhost:7000     # localhost's IPv6 address, [::1]:7000\n"
                  "  sockit echo udp://127.0.0.1:9000 --backend epoll --threads 2 --stats-interval 5\n"
                  "  sockit echo unix-dgram:/tmp/dgram.sock --max-frame 200000\n"
                  "  sockit echo unix-seqpacket:/tmp/records.sock --max-conns 10 --backend io_uring\n"
                  "  sockit echo unix:/tmp/echo.sock --mode 660 --group nogroup   # for the group only\n"
                  "  sockit echo tcp://:7000 --threads 2 --metrics tcp://127.0.0.1:9100\n"
                  "  curl -s http://127.0.0.1:9100/metrics    # what Prometheus scrapes\n"
                  "\n") +
      kAddressHelp);
  return {app, [args] { return run_echo(*args); }};
}

}  // namespace sockit::cli
