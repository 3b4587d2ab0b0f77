// `sockit relay FROM TO`: accept on FROM and carry each client's traffic to TO and
// back (socat's workhorse), optionally through injected faults (faults.hpp).
// Streams and seqpacket run on net::Server (relay_stream.cpp), datagrams on one
// event loop (relay_datagram.cpp); this file parses, checks and reports.
#include <fmt/core.h>
#include <signal.h>

#include <charconv>
#include <cmath>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "address_arg.hpp"
#include "bind_retry_option.hpp"
#include "commands.hpp"
#include "errors.hpp"
#include "family_flags.hpp"
#include "log.hpp"
#include "metrics_server.hpp"
#include "option_checks.hpp"
#include "relay_datagram.hpp"
#include "relay_stream.hpp"
#include "signals.hpp"
#include "unix_file_options.hpp"

namespace sockit::cli {
namespace {

constexpr std::chrono::milliseconds kShutdownGrace{2000};

struct RelayArgs {
  std::string from;
  std::string to;
  std::size_t max_connections = 1024;
  std::size_t max_clients = 1024;
  double idle_timeout_s = 60;
  std::string backend = "auto";
  double stats_interval_s = 0;
  std::string loss = "0";
  unsigned loss_burst = 1;
  double delay_ms = 0;
  double jitter_ms = 0;
  std::string duplicate = "0";
  std::string reorder = "0";
  double rate_mbit = 0;
  std::uint64_t seed = 0;
  std::uint64_t reset_after = 0;
  std::uint64_t stall_after = 0;
  double bind_retry_s = kDefaultBindRetrySeconds;
  UnixFileOptions unix_file;
  UnixFileOptionSet unix_file_options;
  std::vector<CLI::Option*> stream_only;    // refused for datagram addresses
  std::vector<CLI::Option*> datagram_only;  // refused for stream addresses
  CLI::Option* seed_option = nullptr;
  CLI::Option* reset_option = nullptr;
  CLI::Option* stall_option = nullptr;
  FamilyArgs family;  // -4/-6: both sides
  std::string metrics;  // --metrics ADDR (empty: none)

  // The family for `side`'s socket: Unix sides take none (the library refuses one).
  [[nodiscard]] int family_for(const Address& side) const {
    return side.is_unix() ? AF_UNSPEC : family.family();
  }
};

// "5", "5%" or "0.5%": a percentage, as a probability.
CLI::Validator percent() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        std::string_view digits = text;
        if (!digits.empty() && digits.back() == '%') digits.remove_suffix(1);
        double value = 0;
        const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
        if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || !std::isfinite(value) ||
            value < 0 || value > 100) {
          return fmt::format("{} is not a percentage from 0 to 100", text);
        }
        return {};
      },
      "PERCENT");
}

double probability(const std::string& text) {
  std::string_view digits = text;
  if (!digits.empty() && digits.back() == '%') digits.remove_suffix(1);
  double value = 0;
  std::from_chars(digits.data(), digits.data() + digits.size(), value);
  return value / 100.0;
}

std::chrono::microseconds ms_to_us(double ms) {
  return std::chrono::microseconds(static_cast<std::int64_t>(std::llround(ms * 1000.0)));
}

std::chrono::milliseconds s_to_ms(double seconds) {
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::ceil(seconds * 1000.0)));
}

int usage_error(const RelayArgs& args, std::string_view why) {
  fmt::print(stderr, "sockit: relay {} {}: {}\n", args.from, args.to, why);
  std::fflush(stderr);
  return kExitUsage;
}

FaultOptions fault_options(const RelayArgs& args) {
  return {.loss = probability(args.loss),
          .loss_burst = args.loss_burst,
          .delay = ms_to_us(args.delay_ms),
          .jitter = ms_to_us(args.jitter_ms),
          .duplicate = probability(args.duplicate),
          .reorder = probability(args.reorder),
          .rate_bps = args.rate_mbit * 1e6,
          .seed = args.seed};
}

// -4/-6 apply to every IP side; they need one, and fit none that is a literal of
// the other family.
int check_family(const RelayArgs& args, const Address& from, const Address& to) {
  if (!args.family.given()) return kExitOk;
  if (from.is_unix() && to.is_unix()) return usage_error(args, family_misuse(args.family, from));
  for (const Address* side : {&from, &to}) {
    if (side->is_unix()) continue;
    if (auto why = family_misuse(args.family, *side); !why.empty()) return usage_error(args, why);
  }
  return kExitOk;
}

int check_combinations(const RelayArgs& args, const Address& from, const Address& to) {
  if (auto why = args.unix_file_options.misuse(from); !why.empty()) return usage_error(args, why);
  if (const int status = check_family(args, from, to); status != kExitOk) return status;
  if (from.is_datagram() != to.is_datagram()) {
    return usage_error(args, "FROM and TO must both be datagram addresses (udp://, unix-dgram:) or both "
                             "connection addresses (tcp://, unix:, unix-seqpacket:)");
  }
  const bool from_records = from.transport() == Transport::unix_seqpacket;
  const bool to_records = to.transport() == Transport::unix_seqpacket;
  if (from_records != to_records) {
    return usage_error(args, "unix-seqpacket: keeps records and relays only to and from unix-seqpacket:");
  }
  const std::vector<CLI::Option*>& refused = from.is_datagram() ? args.stream_only : args.datagram_only;
  for (const CLI::Option* option : refused) {
    if (option->count() > 0) {
      return usage_error(args, fmt::format("{} does not apply to {} (it is for {})", option->get_name(),
                                           from.is_datagram() ? "datagrams" : "connections",
                                           from.is_datagram() ? "connections" : "datagrams"));
    }
  }
  if (args.reset_option->count() > 0 && args.stall_option->count() > 0) {
    return usage_error(args, "--reset-after and --stall-after exclude each other (which fault comes first?)");
  }
  return kExitOk;
}

// Host names are looked up here, once: the loops must never block in getaddrinfo.
std::optional<Address> resolved(const RelayArgs& args, const Address& to) {
  if (to.is_unix()) return to;
  auto endpoints = to.resolve(args.family_for(to));
  if (!endpoints || endpoints->empty()) {
    print_error("relay", args.to, endpoints ? std::make_error_code(std::errc::host_unreachable)
                                            : endpoints.error());
    return std::nullopt;
  }
  return Address::from_endpoint(endpoints->front(), to.transport());
}

void announce_faults(const FaultOptions& faults, const RelayArgs& args) {
  const bool any = faults.loss > 0 || faults.duplicate > 0 || faults.reorder > 0 || faults.delays() ||
                   args.reset_after > 0 || args.stall_after > 0;
  if (!any) return;
  fmt::print(stderr, "sockit: relay faults: seed {} (--seed {} repeats this run's draws)\n", faults.seed,
             faults.seed);
  std::fflush(stderr);
}

std::string_view signal_name(int signal) { return signal == SIGTERM ? "SIGTERM" : "SIGINT"; }

void print_stream_stats(std::string_view prefix, const StreamRelay& relay) {
  const net::ServerStats s = relay.server_stats();
  const StreamRelayCounters& c = relay.counters();
  fmt::print(stderr,
             "{}{} active, {} accepted, {} refused over --max-conns, {} connect failed, {} bytes up, "
             "{} bytes down, {} reset by --reset-after, {} stalled by --stall-after\n",
             prefix, s.active, s.accepted, s.refused_max_connections, c.connect_failed.load(), c.bytes_up.load(),
             c.bytes_down.load(), c.resets_injected.load(), c.stalls_injected.load());
  std::fflush(stderr);
}

int run_stream_relay(const RelayArgs& args, const Address& from, const Address& to,
                     const std::optional<Address>& metrics_at) {
  auto signals = open_stop_signals();  // before the workers exist: they inherit the mask
  if (!signals) {
    print_error("relay", args.from, "signalfd", signals.error());
    return kExitFailure;
  }
  StreamRelayOptions options;
  options.to = to;
  options.faults = fault_options(args);
  options.reset_after = args.reset_after;
  options.stall_after = args.stall_after;
  options.server.backend = args.backend;
  options.server.max_connections = args.max_connections;
  options.server.listen.bind_retry_for = bind_retry_duration(args.bind_retry_s);
  options.server.listen.unix_file = args.unix_file;
  options.server.listen.family = args.family_for(from);
  auto relay = StreamRelay::start(from, std::move(options));
  if (!relay) {
    print_error("relay", args.from, relay.error());
    return kExitFailure;
  }
  std::unique_ptr<MetricsServer> metrics;
  if (metrics_at) {
    metrics = serve_metrics("relay", args.metrics, *metrics_at,
                            [&served = **relay](MetricsSnapshot& out) { served.append_metrics(out); });
    if (!metrics) {
      (*relay)->shutdown(std::chrono::milliseconds(0));
      return kExitFailure;
    }
  }
  announce_listening((*relay)->local_address());
  announce_faults(fault_options(args), args);
  auto stopped = wait_for_stop_signal(signals->get(), s_to_ms(args.stats_interval_s),
                                      [&] { print_stream_stats("sockit: stats: ", **relay); });
  if (metrics) metrics->shutdown();  // before the relay it reads
  (*relay)->shutdown(kShutdownGrace);
  if (!stopped) {
    print_error("relay", args.from, "poll", stopped.error());
    return kExitFailure;
  }
  print_stream_stats(fmt::format("sockit: relay stopped by {}: ", signal_name(stopped->signal)), **relay);
  return kExitOk;
}

void print_datagram_stats(std::string_view prefix, const DatagramRelay& relay) {
  const DatagramRelayStats& s = relay.stats();
  fmt::print(stderr,
             "{}{} clients ({} active, {} expired, {} refused over --max-clients), {} datagrams up "
             "({} bytes), {} down ({} bytes), {} lost, {} duplicated, {} reordered, {} dropped\n",
             prefix, s.clients, relay.active_clients(), s.clients_expired, s.clients_refused, s.datagrams_up,
             s.bytes_up, s.datagrams_down, s.bytes_down, s.lost, s.duplicated, s.reordered, s.dropped);
  std::fflush(stderr);
}

int run_datagram_relay(const RelayArgs& args, const Address& from, const Address& to) {
  auto loop = event::EventLoop::create({.backend = args.backend});
  if (!loop) {
    print_error("relay", args.from, "event loop", loop.error());
    return kExitFailure;
  }
  int stopped_by = 0;
  std::vector<event::SignalHandle> handles;
  for (int signo : {SIGINT, SIGTERM}) {
    auto handle = (*loop)->on_signal(signo, [&](int s) {
      stopped_by = s;
      (*loop)->stop();
    });
    if (!handle) {
      print_error("relay", args.from, "signalfd", handle.error());
      return kExitFailure;
    }
    handles.push_back(std::move(*handle));
  }
  auto relay = DatagramRelay::create(
      **loop, from,
      {.to = to,
       .bind = {.unix_file = args.unix_file,
                .bind_retry_for = bind_retry_duration(args.bind_retry_s),
                .family = args.family_for(from)},
       .faults = fault_options(args),
       .max_clients = args.max_clients,
       .idle_timeout = s_to_ms(args.idle_timeout_s)});
  if (!relay) {
    print_error("relay", args.from, relay.error());
    return kExitFailure;
  }
  auto local = (*relay)->local_address();
  announce_listening(local ? *local : from);
  announce_faults(fault_options(args), args);
  event::TimerHandle stats_timer;
  if (args.stats_interval_s > 0) {
    stats_timer = (*loop)->run_every(s_to_ms(args.stats_interval_s),
                                     [&] { print_datagram_stats("sockit: stats: ", **relay); });
  }
  (*loop)->run();
  print_datagram_stats(fmt::format("sockit: relay stopped by {}: ", signal_name(stopped_by)), **relay);
  stats_timer.cancel();
  relay->reset();  // before the loop: its sockets are registered there
  handles.clear();
  return kExitOk;
}

int run_relay(RelayArgs& args) {
  auto from = parse_address_arg(args.from);
  if (!from) return kExitUsage;
  auto to = parse_address_arg(args.to);
  if (!to) return kExitUsage;
  if (const int status = check_combinations(args, *from, *to); status != kExitOk) return status;
  std::optional<Address> metrics_at;
  if (!args.metrics.empty()) {
    metrics_at = metrics_address("relay", args.from, args.metrics);
    if (!metrics_at) return kExitUsage;
  }
  if (args.seed_option->count() == 0) args.seed = std::random_device{}();
  auto target = resolved(args, *to);
  if (!target) return kExitFailure;
  if (from->is_datagram()) return run_datagram_relay(args, *from, *target);
  return run_stream_relay(args, *from, *target, metrics_at);
}

}  // namespace

Command add_relay_command(CLI::App& parent) {
  auto args = std::make_shared<RelayArgs>();
  CLI::App* app = parent.add_subcommand("relay", "Accept on FROM and relay each client to TO (with faults)");
  app->add_option("FROM", args->from, "Address to accept clients on")->required();
  app->add_option("TO", args->to, "Address to connect (send) each client's traffic to")->required();
  args->stream_only.push_back(
      app->add_option("--max-conns", args->max_connections,
                      "Clients served at once (connections); more are accepted and closed (default 1024)")
          ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 20)));
  args->datagram_only.push_back(
      app->add_option("--max-clients", args->max_clients,
                      "Datagram clients tracked at once; a new one beyond is dropped (default 1024)")
          ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 20)));
  args->datagram_only.push_back(
      app->add_option("--idle-timeout", args->idle_timeout_s,
                      "Forget a datagram client (close its upstream socket) after SECONDS without\n"
                      "traffic either way (default 60)")
          ->transform(seconds_in(0.001, 86400)));
  app->add_option("--backend", args->backend, "Event loop: select, poll, epoll, epoll-et, io_uring, auto")
      ->check(CLI::IsMember({"auto", "select", "poll", "epoll", "epoll-et", "io_uring"}));
  app->add_option("--stats-interval", args->stats_interval_s,
                  "Print a stats line on stderr every SECONDS (0 = off, default)")
      ->transform(seconds_in(0, 86400));
  args->datagram_only.push_back(
      app->add_option("--loss", args->loss, "Drop P% of datagrams (e.g. 5 or 5%)")->check(percent()));
  args->datagram_only.push_back(
      app->add_option("--loss-burst", args->loss_burst,
                      "Lose datagrams in runs of N (the long-run loss stays --loss; default 1)")
          ->check(CLI::Range(1u, 1000u)));
  app->add_option("--delay", args->delay_ms, "Hold every datagram or chunk MS milliseconds")
      ->transform(seconds_in(0, 60000, "a number of milliseconds"));
  app->add_option("--jitter", args->jitter_ms,
                  "Add a uniform -MS..+MS to --delay (never below 0; stream bytes keep their order)")
      ->transform(seconds_in(0, 60000, "a number of milliseconds"));
  args->datagram_only.push_back(
      app->add_option("--duplicate", args->duplicate, "Send P% of datagrams twice")->check(percent()));
  args->datagram_only.push_back(
      app->add_option("--reorder", args->reorder,
                      "Hold P% of datagrams back until the next one of their direction has gone")
          ->check(percent()));
  app->add_option("--rate", args->rate_mbit,
                  "Limit each direction of each client to MBIT megabits/s (token bucket of 64 KiB)")
      ->transform(seconds_in(0.001, 100000, "a rate in Mbit/s"));
  args->seed_option = app->add_option("--seed", args->seed,
                                      "Seed of the fault draws: the same seed repeats a run's decisions\n"
                                      "(default: random, printed on stderr)");
  args->reset_option = app->add_option("--reset-after", args->reset_after,
                                       "Reset both sides once one direction of a client carried BYTES")
                           ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 62));
  args->stall_option = app->add_option("--stall-after", args->stall_after,
                                       "Stop forwarding a direction once it carried BYTES (the\n"
                                       "connections stay open)")
                           ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 62));
  args->stream_only.push_back(add_metrics_option(*app, args->metrics));
  args->stream_only.push_back(args->reset_option);
  args->stream_only.push_back(args->stall_option);
  add_family_flags(*app, args->family, FamilyRole::relay);
  add_bind_retry_option(*app, args->bind_retry_s);
  args->unix_file_options = add_unix_file_options(*app, args->unix_file);
  add_verbose_flag(*app);
  app->footer(
      std::string(
          "Streams (tcp://, unix:, abstract): each client accepted on FROM gets its own\n"
          "connection to TO; bytes are copied both ways, and an end of stream on one side\n"
          "becomes a half-close (FIN) on the other, each direction on its own. A client whose\n"
          "connection to TO fails (5 s at most) is reset, counted, and logged with -v; the\n"
          "relay goes on. A side that does not read stops the relay reading the other side\n"
          "(at most ~1 MiB is held per direction). unix-seqpacket: relays records, whole,\n"
          "to unix-seqpacket: only.\n"
          "Datagrams (udp://, unix-dgram:): each client's datagrams go to TO from a socket of\n"
          "its own, so TO's replies go back to that client; a client silent for\n"
          "--idle-timeout is forgotten. A Unix client must bind its socket to get replies.\n"
          "\n"
          "Faults: --delay, --jitter and --rate apply to both; --loss, --loss-burst,\n"
          "--duplicate and --reorder only to datagrams (a stream cannot lose bytes), and\n"
          "--reset-after, --stall-after only to streams: anything else is exit 2. Each\n"
          "direction of each client draws from its own generator seeded from --seed.\n"
          "Prints 'sockit: listening on ADDR' once bound; SIGINT/SIGTERM print one stats\n"
          "line and exit 0 (open clients get 2 s to finish).\n"
          "--metrics ADDR (streams) serves the relay's counters as GET /metrics in\n"
          "Prometheus's text format (as for `sockit echo`, plus the bytes forwarded each\n"
          "way and the failed connects to TO).\n"
          "-4/-6 pick the IPv4 or IPv6 address of a host name that has both, on every IP side:\n"
          "FROM is bound to it, TO is reached at it (an empty host: 127.0.0.1 or [::1]). A name\n"
          "with none of that family is exit 1; no IP side, or an IP address of the other\n"
          "family, exit 2.\n"
          "\n"
          "Examples:\n"
          "  sockit relay tcp://:8080 unix:/run/app.sock          # expose a Unix service on TCP\n"
          "  sockit relay unix:/tmp/db.sock tcp://db.internal:5432 # and the reverse\n"
          "  sockit relay tcp://:9000 tcp://127.0.0.1:8000 --delay 50 --jitter 10 --rate 2\n"
          "  sockit relay tcp://:9000 tcp://127.0.0.1:8000 --reset-after 100000 -v\n"
          "  sockit relay tcp://:8080 unix:/run/app.sock --metrics tcp://127.0.0.1:9101\n"
          "  sockit relay -6 tcp://localhost:8080 tcp://localhost:80     # [::1]:8080 to [::1]:80\n"
          "  sockit relay udp://:5353 udp://127.0.0.1:53 --loss 5% --loss-burst 3 --seed 1\n"
          "  sockit relay udp://:7000 unix-dgram:/tmp/svc.sock --reorder 10 --duplicate 1\n"
          "\n") +
      kAddressHelp);
  return {app, [args] { return run_relay(*args); }};
}

}  // namespace sockit::cli
