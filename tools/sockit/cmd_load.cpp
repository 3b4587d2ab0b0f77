// `sockit load ADDR`: a load generator for any echo-style stream or seqpacket server (`sockit
// echo` or another): C connections with D messages in flight each, closed loop
// or at a fixed rate, every echoed byte verified; or churn (connect, one
// exchange, close) and flood (hold C connections, count how they are treated).
// load_run.hpp has the phases and threads, load_echo.cpp / load_churn.cpp /
// load_flood.cpp the modes, load_report.cpp the output.
//
// A wrong echo, a connection the server closes in echo mode, or one that cannot
// be made is an error (exit 1), never a statistic: a load generator that counts
// corruption as "errors: 3" lets a broken server pass a benchmark.
#include <sys/socket.h>

#include <fmt/core.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <memory>
#include <string>

#include "address_arg.hpp"
#include "commands.hpp"
#include "errors.hpp"
#include "load_report.hpp"
#include "load_run.hpp"
#include "option_checks.hpp"
#include "signals.hpp"

namespace sockit::cli {
namespace {

constexpr std::size_t kMaxMessageSize = 16u << 20;  // the length framing's default max_frame
// Seqpacket: a record must fit the socket's send buffer (212,992 bytes by default
// on Linux); 64 KiB fits it with room to spare.
constexpr std::size_t kMaxRecordSize = 64u << 10;
constexpr double kDefaultDurationSeconds = 5;
constexpr double kDefaultWarmupSeconds = 1;

struct LoadArgs {
  std::string address;
  std::string mode = "echo";
  std::size_t connections = 10;
  std::size_t depth = 1;
  std::string size = "64";
  std::string framing = "raw";
  std::uint64_t rate = 0;
  double duration_s = kDefaultDurationSeconds;
  std::uint64_t messages = 0;
  double warmup_s = kDefaultWarmupSeconds;
  unsigned threads = 1;
  std::string backend = "auto";
  std::uint64_t seed = 1;
  double connect_timeout_s = 5;
  bool json = false;
  CLI::Option* depth_option = nullptr;
  CLI::Option* rate_option = nullptr;
  CLI::Option* duration_option = nullptr;
  CLI::Option* messages_option = nullptr;
  CLI::Option* warmup_option = nullptr;
};

// "64" or "16-1024": whole numbers of bytes, 1 to 16 MiB, the range in order.
std::optional<SizeRange> parse_sizes(std::string_view text) {
  auto whole = [](std::string_view part) -> std::optional<std::size_t> {
    std::size_t value = 0;
    const bool digits = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), value, 10);
    if (!digits || ec != std::errc() || end != part.data() + part.size() || value < 1 || value > kMaxMessageSize) {
      return std::nullopt;
    }
    return value;
  };
  const auto dash = text.find('-');
  const auto low = whole(text.substr(0, dash));
  const auto high = dash == std::string_view::npos ? low : whole(text.substr(dash + 1));
  if (!low || !high || *low > *high) return std::nullopt;
  return SizeRange{*low, *high};
}

CLI::Validator size_range() {
  return CLI::Validator(
      [](std::string& input) -> std::string {
        if (parse_sizes(input)) return {};
        return fmt::format("'{}' is not a size in bytes or a range S1-S2 (1 to {})", input, kMaxMessageSize);
      },
      "S|S1-S2");
}

std::chrono::nanoseconds to_ns(double seconds) {
  return std::chrono::nanoseconds(static_cast<std::int64_t>(std::llround(seconds * 1e9)));
}

// Options that do not apply to the chosen mode: usage errors, never ignored.
int check_combinations(const LoadArgs& args, const Address& address) {
  if (address.is_datagram()) {
    return usage_error("load", args.address,
                       "load needs a connection: a stream (tcp://, unix:, abstract) or seqpacket "
                       "(unix-seqpacket:) address; datagram addresses are not supported");
  }
  if (address.socket_type() == SOCK_SEQPACKET) {
    // Each message is one record, echoed as one record: the boundaries are the
    // framing. The kernel refuses a record larger than the socket's send buffer.
    if (args.framing != "raw") {
      return usage_error("load", args.address,
                         "--framing applies to streams; on seqpacket each message is one record (raw)");
    }
    if (const auto sizes = parse_sizes(args.size); sizes && sizes->max > kMaxRecordSize) {
      return usage_error("load", args.address,
                         fmt::format("a seqpacket record is at most {} bytes here (-s {} asks for more)",
                                     kMaxRecordSize, args.size));
    }
  }
  if (args.threads > args.connections) {
    return usage_error("load", args.address,
                       fmt::format("--threads {} is more than --connections {} (each thread needs a connection)",
                                   args.threads, args.connections));
  }
  auto given = [](const CLI::Option* option) { return option->count() > 0; };
  if (args.mode != "echo") {
    for (const CLI::Option* option : {args.depth_option, args.rate_option}) {
      if (given(option)) {
        return usage_error("load", args.address, fmt::format("{} applies to --mode echo", option->get_name()));
      }
    }
  }
  if (args.mode == "flood") {
    for (const CLI::Option* option : {args.messages_option, args.warmup_option}) {
      if (given(option)) {
        return usage_error("load", args.address,
                           fmt::format("{} does not apply to --mode flood (it holds its connections for "
                                       "--duration)",
                                       option->get_name()));
      }
    }
  }
  return kExitOk;
}

LoadOptions load_options(const LoadArgs& args, const Address& address) {
  LoadOptions options;
  options.address = address;
  options.mode = args.mode == "churn" ? LoadMode::churn : args.mode == "flood" ? LoadMode::flood : LoadMode::echo;
  options.backend = args.backend;
  options.threads = args.threads;
  options.connections = args.connections;
  options.depth = args.depth;
  options.sizes = *parse_sizes(args.size);
  if (args.framing == "length") options.framing = net::Framing::Kind::length_prefix;
  if (args.framing == "line") options.framing = net::Framing::Kind::line;
  options.rate = static_cast<double>(args.rate);
  options.warmup = options.mode == LoadMode::flood ? std::chrono::nanoseconds(0) : to_ns(args.warmup_s);
  // --messages alone bounds the run by count (a stalled server still ends it:
  // kNoEchoLimit); with --duration too, whichever comes first.
  const bool by_count_only = args.messages_option->count() > 0 && args.duration_option->count() == 0;
  if (!by_count_only) options.duration = to_ns(args.duration_s);
  options.messages = args.messages;
  options.seed = args.seed;
  options.connect_timeout = std::chrono::milliseconds(std::llround(args.connect_timeout_s * 1000));
  return options;
}

int run_load_command(const LoadArgs& args) {
  auto address = parse_address_arg(args.address);
  if (!address) return kExitUsage;
  if (const int status = check_combinations(args, *address); status != kExitOk) return status;
  const LoadOptions options = load_options(args, *address);
  // Ctrl-C ends the run early with its report (a second one aborts); blocked
  // here, before the threads start, so that only this thread's signalfd sees them.
  auto signals = open_stop_signals();
  const LoadResult result = run_load(options, signals ? signals->get() : -1);
  const LoadReportInput report{options, args.address, result};
  const bool traffic = result.tally.window_start.has_value();
  if (args.json) {
    print_load_json(report);
  } else if (traffic) {
    print_load_report(report);
  }
  if (!result.error.empty()) {
    fmt::print(stderr, "sockit: load {}: {}\n", args.address, result.error);
    std::fflush(stderr);
    return kExitFailure;
  }
  // Churn and flood count refusals; nothing served at all means no server to measure.
  const LoadTally& t = result.tally;
  if (options.mode == LoadMode::churn && t.exchanges == 0) {
    fmt::print(stderr, "sockit: load {}: no exchange completed ({} connects failed{}, {} closed before the echo)\n",
               args.address, t.connect_failed,
               t.first_connect_error.empty() ? "" : fmt::format(", the first with: {}", t.first_connect_error),
               t.closed_early);
    std::fflush(stderr);
    return kExitFailure;
  }
  if (options.mode == LoadMode::flood && t.served + t.dropped == 0) {
    fmt::print(stderr, "sockit: load {}: no connection was served ({} refused{}, {} closed before the echo)\n",
               args.address, t.refused,
               t.first_connect_error.empty() ? "" : fmt::format(", the first with: {}", t.first_connect_error),
               t.closed_early);
    std::fflush(stderr);
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace

Command add_load_command(CLI::App& parent) {
  auto args = std::make_shared<LoadArgs>();
  CLI::App* app = parent.add_subcommand("load", "Load an echo server on ADDR and measure it (every echo verified)");
  app->add_option("ADDR", args->address,
                  "The echo server's address: a stream (tcp://, unix:, abstract) or unix-seqpacket: (a message per record)")
      ->required();
  app->add_option("--mode", args->mode,
                  "echo (default): messages on C connections; churn: connect, one exchange, close,\n"
                  "over and over; flood: open C connections, hold them, count how they are treated")
      ->check(CLI::IsMember({"echo", "churn", "flood"}));
  app->add_option("-c,--connections", args->connections,
                  "Connections (churn: at a time; default 10)")
      ->transform(whole_in(1, std::uint64_t{1} << 20, "a number of connections"));
  args->depth_option =
      app->add_option("-d,--depth", args->depth, "Messages in flight per connection (echo; default 1)")
          ->transform(whole_in(1, 65536, "a number of messages"));
  app->add_option("-s,--size", args->size,
                  "Message size in bytes, or a range S1-S2 (sizes drawn from --seed); default 64")
      ->transform(size_range());
  app->add_option("--framing", args->framing,
                  "raw (default; the echo is checked as a byte stream), length (4-byte big-endian\n"
                  "prefix), line (printable bytes, then '\\n'): what the server's --framing is")
      ->check(CLI::IsMember({"raw", "length", "line"}));
  args->rate_option =
      app->add_option("--rate", args->rate,
                      "Messages per second over all connections, on a fixed schedule (echo; default:\n"
                      "closed loop). Latency counts from each message's scheduled time, so a stall shows")
          ->transform(whole_in(1, 10'000'000, "a number of messages per second"));
  args->duration_option =
      app->add_option("--duration", args->duration_s,
                      "Seconds measured after the warm-up (flood: seconds to hold the connections);\n"
                      "default 5, or none when --messages is given alone")
          ->transform(seconds_in(0.001, 86400));
  args->messages_option =
      app->add_option("--messages", args->messages,
                      "End after N messages (echo) or exchanges (churn) counted after the warm-up")
          ->transform(whole_in(1, std::uint64_t{1} << 48, "a number of messages"));
  args->warmup_option =
      app->add_option("--warmup", args->warmup_s, "Seconds of traffic before measuring (default 1)")
          ->transform(seconds_in(0, 3600));
  app->add_option("--threads", args->threads,
                  "Threads, each with its own event loop and a share of the connections (default 1)")
      ->transform(whole_in(1, 256, "a number of threads"));
  app->add_option("--backend", args->backend, "Event loop: select, poll, epoll, epoll-et, io_uring, auto")
      ->check(CLI::IsMember({"auto", "select", "poll", "epoll", "epoll-et", "io_uring"}));
  app->add_option("--seed", args->seed, "Seed of the message sizes and bytes (default 1)")
      ->transform(whole_in(0, UINT64_MAX, "a seed"));
  app->add_option("--connect-timeout", args->connect_timeout_s, "Seconds each connect may take (default 5)")
      ->transform(seconds_in(0.001, 3600));
  app->add_flag("--json", args->json, "Print one JSON object on stdout instead of the report");
  add_verbose_flag(*app);
  app->footer(
      std::string(
          "Echo mode connects every connection first (a connection that cannot be made is\n"
          "an error), then sends for --warmup and --duration seconds and reports messages/s,\n"
          "MB/s (payload, each way), the round-trip latency (p50, p90, p99, p99.9, max, from a\n"
          "log-linear histogram within ~3%) and the CPU its own threads used in the measured\n"
          "window: near 100% of one core per --threads means the load, not the server, may be\n"
          "the limit. Every message's size and bytes follow from --seed, the connection and\n"
          "the message number, and every echoed byte is checked: a difference, a connection\n"
          "the server closes, or no echo for 5 s is an error, exit 1, with one line such as\n"
          "  sockit: load tcp://127.0.0.1:7000: echo differs on connection 3, message 17, byte 5 (...)\n"
          "(connections, messages and bytes count from 0).\n"
          "Churn counts exchanges per second and failures (refused connects, connections\n"
          "closed before the echo); flood counts served, dropped, closed, refused and\n"
          "unanswered connections. Both exit 1 only if nothing at all was served, or on a\n"
          "wrong echo. --json prints one object with every figure (latencies in ns).\n"
          "Ctrl-C (or SIGTERM) ends the run early with the report of what it measured up\n"
          "to then, marked interrupted (exit 0); a second Ctrl-C aborts at once (exit 1).\n"
          "\n"
          "Examples:\n"
          "  sockit echo tcp://127.0.0.1:7000 &\n"
          "  sockit load tcp://127.0.0.1:7000 -c 100 -d 4 --duration 5\n"
          "  sockit load tcp://127.0.0.1:7000 -c 100 --rate 50000 --duration 10   # fixed rate\n"
          "  sockit load unix:/tmp/echo.sock -c 1000 -d 16 -s 16-4096 --threads 2 --json\n"
          "  sockit load unix:/tmp/lines.sock --framing line -s 1-200 --messages 100000\n"
          "  sockit load tcp://127.0.0.1:7000 --mode churn -c 8 --duration 5\n"
          "  sockit echo tcp://127.0.0.1:7001 --max-conns 5 &\n"
          "  sockit load tcp://127.0.0.1:7001 --mode flood -c 20 --duration 2   # 5 served, 15 closed\n"
          "\n") +
      kAddressHelp);
  return {app, [args] { return run_load_command(*args); }};
}

}  // namespace sockit::cli
