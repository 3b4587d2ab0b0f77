#include "load_report.hpp"

#include <fmt/core.h>

#include <cstdio>
#include <cstring>
#include <thread>

#include "text_escape.hpp"

namespace sockit::cli {
namespace {

std::string_view mode_name(LoadMode mode) {
  switch (mode) {
    case LoadMode::echo: return "echo";
    case LoadMode::churn: return "churn";
    case LoadMode::flood: return "flood";
  }
  return "?";
}

std::string_view framing_name(net::Framing::Kind kind) {
  switch (kind) {
    case net::Framing::Kind::raw: return "raw";
    case net::Framing::Kind::length_prefix: return "length";
    case net::Framing::Kind::line: return "line";
  }
  return "?";
}

// "850 ns", "12.3 us", "4.56 ms", "1.20 s": three significant figures.
std::string duration_text(std::uint64_t ns) {
  if (ns < 1000) return fmt::format("{} ns", ns);
  const double v = static_cast<double>(ns);
  if (ns < 1'000'000) return fmt::format("{:.3g} us", v / 1e3);
  if (ns < 1'000'000'000) return fmt::format("{:.3g} ms", v / 1e6);
  return fmt::format("{:.3g} s", v / 1e9);
}

std::string sizes_text(SizeRange sizes) {
  if (sizes.min == sizes.max) return fmt::format("{} B", sizes.min);
  return fmt::format("{}-{} B", sizes.min, sizes.max);
}

double per_second(std::uint64_t n, double seconds) { return seconds > 0 ? static_cast<double>(n) / seconds : 0; }

double seconds_of(std::chrono::microseconds us) { return static_cast<double>(us.count()) / 1e6; }

double cpu_percent(const LoadTally& t) {
  const double window = t.window_seconds();
  return window > 0 ? 100.0 * (seconds_of(t.cpu_user) + seconds_of(t.cpu_system)) / window : 0;
}

unsigned cores() { return std::max(1u, std::thread::hardware_concurrency()); }

std::string latency_text(const LatencyHistogram& h) {
  return fmt::format("p50 {}, p90 {}, p99 {}, p99.9 {}, max {}", duration_text(h.percentile(50)),
                     duration_text(h.percentile(90)), duration_text(h.percentile(99)),
                     duration_text(h.percentile(99.9)), duration_text(h.max()));
}

void print_cpu_line(const LoadTally& t) {
  fmt::print("  load CPU:    {:.2f} s (user {:.2f} s, system {:.2f} s) = {:.0f}% of one core over the window "
             "({} cores here)\n",
             seconds_of(t.cpu_user) + seconds_of(t.cpu_system), seconds_of(t.cpu_user), seconds_of(t.cpu_system),
             cpu_percent(t), cores());
}

void print_echo(const LoadReportInput& in) {
  const LoadOptions& o = in.options;
  const LoadTally& t = in.result.tally;
  const double window = t.window_seconds();
  const std::string pace = o.rate > 0 ? fmt::format("{} msg/s fixed rate", o.rate) : "closed loop";
  fmt::print("sockit load {}: echo, {} connections, depth {}, {} messages, framing {}, {}\n", in.address_text,
             o.connections, o.depth, sizes_text(o.sizes), framing_name(o.framing), pace);
  fmt::print("  backend {}, {} thread{}; {:.2f} s warm-up, {:.2f} s measured\n", in.result.backend, o.threads,
             o.threads == 1 ? "" : "s", std::chrono::duration<double>(o.warmup).count(), window);
  fmt::print("  messages:    {} echoed and verified, {:.0f} msg/s\n", t.messages, per_second(t.messages, window));
  const double mb = per_second(t.bytes, window) / 1e6;
  fmt::print("  throughput:  {:.2f} MB/s each way (payload; {:.2f} MB/s both directions)\n", mb, 2 * mb);
  fmt::print("  latency:     {} (round trip{})\n", latency_text(t.latency),
             o.rate > 0 ? ", from each message's scheduled send time" : "");
}

void print_churn(const LoadReportInput& in) {
  const LoadOptions& o = in.options;
  const LoadTally& t = in.result.tally;
  const double window = t.window_seconds();
  fmt::print("sockit load {}: churn, {} connections at a time, {} messages, framing {}\n", in.address_text,
             o.connections, sizes_text(o.sizes), framing_name(o.framing));
  fmt::print("  backend {}, {} thread{}; {:.2f} s warm-up, {:.2f} s measured\n", in.result.backend, o.threads,
             o.threads == 1 ? "" : "s", std::chrono::duration<double>(o.warmup).count(), window);
  fmt::print("  exchanges:   {} (connect, echo verified, close), {:.0f} connections/s\n", t.exchanges,
             per_second(t.exchanges, window));
  fmt::print("  failures:    {} connects failed{}, {} closed by the server before the echo\n", t.connect_failed,
             t.first_connect_error.empty() ? "" : fmt::format(" (first: {})", t.first_connect_error),
             t.closed_early);
  fmt::print("  latency:     {} (connect to verified echo)\n", latency_text(t.latency));
}

void print_flood(const LoadReportInput& in) {
  const LoadOptions& o = in.options;
  const LoadTally& t = in.result.tally;
  fmt::print("sockit load {}: flood, {} connections held for {:.2f} s\n", in.address_text, o.connections,
             t.window_seconds());
  fmt::print("  backend {}, {} thread{}\n", in.result.backend, o.threads, o.threads == 1 ? "" : "s");
  fmt::print("  served:      {} (echoed, held open to the end)\n", t.served);
  fmt::print("  dropped:     {} (echoed, then closed by the server)\n", t.dropped);
  fmt::print("  closed:      {} (accepted, then closed or reset before echoing)\n", t.closed_early);
  fmt::print("  refused:     {} (the connect failed{})\n", t.refused,
             t.first_connect_error.empty() ? "" : fmt::format("; first: {}", t.first_connect_error));
  fmt::print("  unanswered:  {} (no connect or no echo by the end)\n", t.unanswered);
  if (t.latency.count() > 0) fmt::print("  latency:     {} (flood start to each echo)\n", latency_text(t.latency));
}

std::string json_latency(const LatencyHistogram& h) {
  return fmt::format(R"({{"p50":{},"p90":{},"p99":{},"p999":{},"max":{},"count":{}}})", h.percentile(50),
                     h.percentile(90), h.percentile(99), h.percentile(99.9), h.max(), h.count());
}

}  // namespace

void print_load_report(const LoadReportInput& in) {
  switch (in.options.mode) {
    case LoadMode::echo: print_echo(in); break;
    case LoadMode::churn: print_churn(in); break;
    case LoadMode::flood: print_flood(in); break;
  }
  fmt::print("  errors:      {}\n", in.result.error.empty() ? "0" : "1 (see stderr)");
  if (in.result.interrupted_by != 0) {
    fmt::print("  interrupted: by {} (the figures cover the run up to it)\n", strsignal(in.result.interrupted_by));
  }
  print_cpu_line(in.result.tally);
  std::fflush(stdout);
}

void print_load_json(const LoadReportInput& in) {
  const LoadOptions& o = in.options;
  const LoadTally& t = in.result.tally;
  const double window = t.window_seconds();
  std::string json = fmt::format(
      R"({{"mode":"{}","address":{},"backend":{},"threads":{},"connections":{},"size_min":{},"size_max":{},)"
      R"("framing":"{}","seed":{},"warmup_s":{},"window_s":{},)",
      mode_name(o.mode), json_string(in.address_text), json_string(in.result.backend), o.threads, o.connections,
      o.sizes.min, o.sizes.max, framing_name(o.framing), o.seed, std::chrono::duration<double>(o.warmup).count(),
      window);
  switch (o.mode) {
    case LoadMode::echo:
      json += fmt::format(
          R"("depth":{},"rate":{},"messages":{},"messages_per_s":{},"bytes_each_way":{},"mb_per_s_each_way":{},)",
          o.depth, o.rate > 0 ? fmt::format("{}", o.rate) : "null", t.messages, per_second(t.messages, window),
          t.bytes, per_second(t.bytes, window) / 1e6);
      break;
    case LoadMode::churn:
      json += fmt::format(R"("exchanges":{},"connections_per_s":{},"connect_failed":{},"closed_early":{},)",
                          t.exchanges, per_second(t.exchanges, window), t.connect_failed, t.closed_early);
      break;
    case LoadMode::flood:
      json += fmt::format(R"("served":{},"dropped":{},"closed_early":{},"refused":{},"unanswered":{},)", t.served,
                          t.dropped, t.closed_early, t.refused, t.unanswered);
      break;
  }
  if (o.mode != LoadMode::echo) {
    json += fmt::format(R"("first_connect_error":{},)",
                        t.first_connect_error.empty() ? "null" : json_string(t.first_connect_error));
  }
  json += fmt::format(
      R"("latency_ns":{},"errors":{},"error":{},"interrupted":{},"cpu_user_s":{},"cpu_system_s":{},"cpu_percent_of_one_core":{},)"
      R"("cores":{}}})",
      json_latency(t.latency), in.result.error.empty() ? 0 : 1,
      in.result.error.empty() ? "null" : json_string(in.result.error), in.result.interrupted_by != 0,
      seconds_of(t.cpu_user),
      seconds_of(t.cpu_system), cpu_percent(t), cores());
  fmt::print("{}\n", json);
  std::fflush(stdout);
}

}  // namespace sockit::cli
