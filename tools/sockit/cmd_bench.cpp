// `sockit bench`: the reference article's IPC trade-off table ("very high",
// "high", "highest", "shared memory may be faster") measured on this machine:
// round-trip latency percentiles and one-way throughput for every local
// transport, through raw syscalls (the floor), sockit's blocking API and its event
// loop on each chosen backend; with --buffer-sweep the stream sockets again at
// each SO_SNDBUF/SO_RCVBUF size, and with --plot a picture (bench_plot.hpp). See
// bench_run.hpp for how one figure is measured and bench_report.hpp for the units.
//
// Every run is bounded: each measurement lasts --duration after its warm-up, and
// a reply that does not come within 2 s ends that measurement with an error.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "bench_plot.hpp"
#include "bench_report.hpp"
#include "bench_run.hpp"
#include "commands.hpp"
#include "errors.hpp"
#include "option_checks.hpp"
#include "sockit/event/event_loop.hpp"

namespace sockit::cli {
namespace {

constexpr double kQuickSeconds = 0.1;
constexpr std::size_t kMaxSize = 64 * 1024;
const std::vector<std::string> kAllBackends = {"select", "poll", "epoll", "epoll-et", "io_uring"};

struct BenchArgs {
  bool quick = false;
  double duration_seconds = 1;
  std::uint64_t rate = 0;
  std::vector<std::string> transports;
  std::vector<std::string> sizes;
  std::vector<std::string> backends;
  std::string json_file;
  std::string csv_file;
  bool buffer_sweep = false;
  std::string plot_file;
};

// "64", "1k", "1K", "1KiB", "64KiB": bytes, 1 to 64 KiB; nullopt if not.
std::optional<std::size_t> parse_size(std::string_view text) {
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0 || digits > 6) return std::nullopt;
  std::size_t value = std::stoul(std::string(text.substr(0, digits)));
  const std::string_view unit = text.substr(digits);
  if (unit == "k" || unit == "K" || unit == "KiB") {
    value *= 1024;
  } else if (!unit.empty() && unit != "B") {
    return std::nullopt;
  }
  if (value == 0 || value > kMaxSize) return std::nullopt;
  return value;
}

// A directory of our own for Unix socket paths and FIFOs, removed at the end
// (what is made in it is unlinked as soon as it is connected).
class TempDir {
 public:
  static Result<TempDir> create() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = fmt::format("{}/sockit-bench-XXXXXX", base != nullptr && *base != '\0' ? base : "/tmp");
    if (::mkdtemp(pattern.data()) == nullptr) return std::unexpected(std::error_code(errno, std::system_category()));
    return TempDir(std::move(pattern));
  }
  TempDir(TempDir&& other) noexcept : path_(std::exchange(other.path_, {})) {}
  TempDir& operator=(TempDir&&) = delete;
  ~TempDir() {
    if (!path_.empty()) ::rmdir(path_.c_str());
  }
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

struct Plan {
  std::vector<const BenchTransport*> transports;
  std::vector<const BenchTransport*> swept;  // --buffer-sweep: the stream sockets among them
  std::vector<std::size_t> sizes;
  std::vector<std::string> backends;
};

// Options checked before anything runs: a typo is a usage error, not a failed
// row after a minute of measuring.
std::optional<Plan> plan_from(const BenchArgs& args) {
  Plan plan;
  for (const std::string& name : args.transports) {
    if (name == "all") {
      for (const BenchTransport& t : bench_transports()) plan.transports.push_back(&t);
      continue;
    }
    const BenchTransport* t = find_bench_transport(name);
    if (t == nullptr) {
      std::string names;
      for (const BenchTransport& known : bench_transports()) names += fmt::format("{}{}", names.empty() ? "" : ", ", known.name);
      usage_error("bench", "--transports", fmt::format("unknown transport '{}'; the transports are all, {}", name, names));
      return std::nullopt;
    }
    plan.transports.push_back(t);
  }
  for (const std::string& text : args.sizes) {
    auto size = parse_size(text);
    if (!size) {
      usage_error("bench", "--sizes",
                  fmt::format("'{}' is not a message size (1 to 65536 bytes; 1K and 64KiB are accepted)", text));
      return std::nullopt;
    }
    plan.sizes.push_back(*size);
  }
  std::sort(plan.sizes.begin(), plan.sizes.end());
  plan.sizes.erase(std::unique(plan.sizes.begin(), plan.sizes.end()), plan.sizes.end());
  for (const std::string& name : args.backends) {
    if (std::find(kAllBackends.begin(), kAllBackends.end(), name) == kAllBackends.end()) {
      usage_error("bench", "--backends",
                  fmt::format("unknown backend '{}'; the backends are select, poll, epoll, epoll-et, io_uring", name));
      return std::nullopt;
    }
    if (std::find(plan.backends.begin(), plan.backends.end(), name) == plan.backends.end()) plan.backends.push_back(name);
  }
  if (args.buffer_sweep) {
    for (const BenchTransport* t : plan.transports) {
      if (t->kind == BenchKind::stream && t->socket) plan.swept.push_back(t);
    }
    if (plan.swept.empty()) {
      usage_error("bench", "--buffer-sweep",
                  "applies to the stream sockets (socketpair-stream, unix-stream, unix-stream-abstract, tcp, "
                  "tcp-nodelay) and none is selected");
      return std::nullopt;
    }
  }
  if (!args.plot_file.empty() && !plot_format(args.plot_file)) {
    usage_error("bench", "--plot",
                fmt::format("'{}' does not end in .svg or .png (the picture's format)", args.plot_file));
    return std::nullopt;
  }
  return plan;
}

// Every row the plan asks for, in the order the tables show them: RTT for each
// path, then throughput (raw, sockit and the loop on each backend) for each size. What cannot run is
// a row with the reason, so the output says what was left out.
std::vector<BenchRow> rows_of(const Plan& plan, bool backends_chosen, bool quick) {
  const std::vector<std::string> available = event::EventLoop::available_backends();
  std::vector<BenchRow> rows;
  const auto add = [&](const BenchTransport* t, BenchPath path, BenchMeasure measure, std::size_t size) {
    BenchRow row;
    row.bench_case = {t, std::move(path), measure, size, std::nullopt};
    if (auto why = path_unavailable(*t, row.bench_case.path)) {
      row.skipped = std::string(*why);
    } else if (t->max_message != 0 && size > t->max_message) {
      row.skipped = std::string(t->too_large);
    } else if (row.bench_case.path.kind == BenchPathKind::loop &&
               std::find(available.begin(), available.end(), row.bench_case.path.backend) == available.end()) {
      row.skipped = fmt::format("the {} backend is not available on this kernel", row.bench_case.path.backend);
      row.failed = backends_chosen;  // asked for by name: an error, not a note
    }
    rows.push_back(std::move(row));
  };
  for (const BenchTransport* t : plan.transports) {
    add(t, {BenchPathKind::raw, {}}, BenchMeasure::rtt, plan.sizes.front());
    add(t, {BenchPathKind::sockit, {}}, BenchMeasure::rtt, plan.sizes.front());
    for (const std::string& backend : plan.backends) add(t, {BenchPathKind::loop, backend}, BenchMeasure::rtt, plan.sizes.front());
  }
  for (const BenchTransport* t : plan.transports) {
    for (std::size_t size : plan.sizes) {
      add(t, {BenchPathKind::raw, {}}, BenchMeasure::throughput, size);
      add(t, {BenchPathKind::sockit, {}}, BenchMeasure::throughput, size);
      // --quick keeps within its 30 s with the loop's throughput at the smallest
      // size only, where the loop's own cost per message shows most.
      if (quick && size != plan.sizes.front()) continue;
      for (const std::string& backend : plan.backends) add(t, {BenchPathKind::loop, backend}, BenchMeasure::throughput, size);
    }
  }
  return rows;
}

// The sweep's rows: for each stream socket and buffer size (the default first),
// RTT at the smallest size and throughput at the largest, raw syscalls only (the
// buffers are the kernel's; every path reads and writes through the same ones).
std::vector<BenchRow> sweep_rows_of(const Plan& plan, bool quick) {
  const std::span<const int> buffers = quick ? std::span<const int>(kQuickSweepBuffers) : kSweepBuffers;
  std::vector<BenchRow> rows;
  for (const BenchTransport* t : plan.swept) {
    for (const int buffer : buffers) {
      for (const auto& [measure, size] : {std::pair{BenchMeasure::rtt, plan.sizes.front()},
                                          std::pair{BenchMeasure::throughput, plan.sizes.back()}}) {
        BenchRow row;
        row.bench_case = {t, {BenchPathKind::raw, {}}, measure, size, buffer};
        rows.push_back(std::move(row));
      }
    }
  }
  return rows;
}

// "[12/150] tcp loop/epoll RTT 64 B" on one line that rewrites itself, only for a
// person watching a terminal (a log or a pipe gets none of it).
class Progress {
 public:
  Progress() : shown_(::isatty(STDERR_FILENO) == 1) {}
  ~Progress() { clear(); }
  void show(std::size_t index, std::size_t total, const BenchCase& c) {
    if (!shown_) return;
    std::string buffers;
    if (c.socket_buffer) {
      buffers = *c.socket_buffer == 0 ? ", default buffers"
                                      : ", buffers " + size_label(static_cast<std::size_t>(*c.socket_buffer));
    }
    fmt::print(stderr, "\r\033[Ksockit bench: [{}/{}] {} {} {} {}{}", index + 1, total, c.transport->name,
               c.path.name(), c.measure == BenchMeasure::rtt ? "RTT" : "throughput", size_label(c.message_size),
               buffers);
    std::fflush(stderr);
  }
  void clear() {
    if (!shown_) return;
    fmt::print(stderr, "\r\033[K");
    std::fflush(stderr);
  }

 private:
  bool shown_;
};

// An output file opened before the run, so an unwritable path fails at once.
std::optional<std::ofstream> open_output(const std::string& path) {
  std::ofstream file(path, std::ios::out | std::ios::trunc);
  if (!file) {
    print_error("bench", path, "open", std::error_code(errno != 0 ? errno : EIO, std::system_category()));
    return std::nullopt;
  }
  return file;
}

bool write_output(std::ofstream& file, const std::string& path, const std::string& text) {
  file << text;
  file.flush();
  if (file) return true;
  print_error("bench", path, "write", std::error_code(errno != 0 ? errno : EIO, std::system_category()));
  return false;
}

int run_bench(const BenchArgs& args, bool backends_chosen) {
  auto plan = plan_from(args);
  if (!plan) return kExitUsage;
  if (!args.plot_file.empty() && !have_gnuplot()) {
    fmt::print(stderr, "sockit: bench --plot {}: gnuplot is not installed (Debian package gnuplot-nox)\n",
               args.plot_file);
    return kExitFailure;
  }
  std::optional<std::ofstream> json;
  std::optional<std::ofstream> csv;
  if (!args.json_file.empty()) {
    json = open_output(args.json_file);
    if (!json) return kExitFailure;
  }
  if (!args.csv_file.empty()) {
    csv = open_output(args.csv_file);
    if (!csv) return kExitFailure;
  }
  // The picture's file too (gnuplot writes it at the end), so a bad path fails now.
  if (!args.plot_file.empty() && !open_output(args.plot_file)) return kExitFailure;
  auto temp_dir = TempDir::create();
  if (!temp_dir) {
    print_error("bench", "a temporary directory", temp_dir.error());
    return kExitFailure;
  }

  BenchReport report;
  const double seconds = args.quick ? kQuickSeconds : args.duration_seconds;
  report.timing.duration = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(seconds));
  report.timing.warmup = report.timing.duration / 5;
  report.timing.rate = static_cast<double>(args.rate);
  report.sizes = plan->sizes;
  report.rtt_size = plan->sizes.front();
  report.backends = plan->backends;
  report.machine = describe_machine(pin_bench_cpus());
  report.rows = rows_of(*plan, backends_chosen, args.quick);
  report.sweep = sweep_rows_of(*plan, args.quick);

  bool failed = false;
  Progress progress;
  const std::size_t total = report.rows.size() + report.sweep.size();
  std::size_t index = 0;
  for (std::vector<BenchRow>* rows : {&report.rows, &report.sweep}) {
    for (BenchRow& row : *rows) {
      const unsigned serial = static_cast<unsigned>(index++);
      if (!row.measured()) {
        if (row.failed && !failed) {
          progress.clear();
          fmt::print(stderr, "sockit: bench: {}\n", row.skipped);
        }
        failed = failed || row.failed;
        continue;
      }
      progress.show(serial, total, row.bench_case);
      auto figures = run_bench_case(row.bench_case, report.timing, report.machine.pinned, temp_dir->path(), serial);
      if (!figures) {
        progress.clear();
        const BenchCase& c = row.bench_case;
        print_error(fmt::format("bench {} {}", c.transport->name, c.path.name()),
                    c.measure == BenchMeasure::rtt ? "RTT" : "throughput", figures.error());
        row.skipped = describe(figures.error());
        row.failed = true;
        failed = true;
        continue;
      }
      row.seconds = figures->seconds;
      row.granted_send = figures->granted_send;
      row.granted_receive = figures->granted_receive;
      if (row.bench_case.measure == BenchMeasure::rtt) {
        row.rtt = summarize(figures->rtt);
      } else {
        row.messages = figures->messages;
        row.bytes = figures->bytes;
      }
    }
  }
  progress.clear();
  print_bench_tables(report);
  if (json && !write_output(*json, args.json_file, bench_json(report))) return kExitFailure;
  if (csv && !write_output(*csv, args.csv_file, bench_csv(report))) return kExitFailure;
  if (!args.plot_file.empty()) {
    if (auto why = draw_bench_plot(report, args.plot_file, temp_dir->path())) {
      fmt::print(stderr, "sockit: bench --plot {}: {}\n", args.plot_file, *why);
      ::unlink(args.plot_file.c_str());  // no empty or half-written picture left behind
      return kExitFailure;
    }
  }
  return failed ? kExitFailure : kExitOk;
}

}  // namespace

Command add_bench_command(CLI::App& parent) {
  auto args = std::make_shared<BenchArgs>();
  args->transports = {"all"};
  args->sizes = {"64", "1KiB", "64KiB"};
  args->backends = {"epoll", "io_uring"};
  CLI::App* app = parent.add_subcommand(
      "bench", "Measure IPC latency and throughput on this machine (the article's trade-off table, in numbers)");
  auto* quick = app->add_flag("--quick", args->quick,
                              fmt::format("{:g} s per measurement (the whole default run in well under 30 s)",
                                          kQuickSeconds));
  app->add_option("--duration", args->duration_seconds,
                  "Seconds measured per figure, after a warm-up of a fifth of that (default 1)")
      ->transform(seconds_in(0.001, 600))
      ->excludes(quick);
  app->add_option("--transports", args->transports, "Comma-separated transports (default all; see below)")
      ->delimiter(',')
      ->type_name("LIST");
  app->add_option("--sizes", args->sizes,
                  "Comma-separated message sizes, 1 B to 64 KiB (default 64,1KiB,64KiB); RTT uses the smallest")
      ->delimiter(',')
      ->type_name("LIST");
  auto* backends = app->add_option("--backends", args->backends,
                                   "Event-loop backends for the loop path: select, poll, epoll, epoll-et, io_uring "
                                   "(default epoll,io_uring)")
                       ->delimiter(',')
                       ->type_name("LIST");
  app->add_option("--rate", args->rate,
                  "RTT at a fixed rate of N round trips per second, each timed from its scheduled send "
                  "(stalls are not hidden: coordinated omission); default: closed loop")
      ->transform(whole_in(1, 10'000'000, "a number of round trips per second"));
  app->add_option("--json", args->json_file, "Also write every figure and the machine to FILE as JSON")->type_name("FILE");
  app->add_option("--csv", args->csv_file, "Also write every figure and the machine to FILE as CSV")->type_name("FILE");
  app->add_flag("--buffer-sweep", args->buffer_sweep,
                "Also measure the stream sockets selected with SO_SNDBUF/SO_RCVBUF at 4 KiB to 4 MiB and the "
                "kernel's default: RTT and throughput at each, raw syscalls (7 sizes x 2 figures per transport)");
  app->add_option("--plot", args->plot_file,
                  "Also draw RTT p50/p99 (log scale) and throughput per transport into FILE.svg or FILE.png "
                  "(needs gnuplot)")
      ->type_name("FILE");
  std::string transports;
  for (const BenchTransport& t : bench_transports()) transports += fmt::format("  {:<24} {}\n", t.name, t.description);
  app->footer(
      "Each figure comes from two processes (pinned to two cores when there are two),\n"
      "connected over the transport; the first fifth of each run warms up and is not counted.\n"
      "  RTT: one message in flight, each round trip (request and reply, not half of it)\n"
      "       timed into a histogram: p50, p90, p99, p99.9 and max.\n"
      "  throughput: one side sends as fast as it can, the other counts what arrives\n"
      "       (MB/s with MB = 10^6 bytes, and messages/s).\n"
      "Paths: raw (plain syscalls: the floor), sockit (the blocking API), loop/BACKEND\n"
      "(the event loop; with --quick its throughput at the smallest size only). Output: the article's table with measured columns,\n"
      "then the detail tables and what was not measured and why.\n"
      "--buffer-sweep adds a table: each stream socket with SO_SNDBUF and SO_RCVBUF asked at\n"
      "4 KiB, 16 KiB, 64 KiB, 256 KiB, 1 MiB, 4 MiB (with --quick: 4 KiB, 64 KiB, 1 MiB) and left\n"
      "at the kernel's default, and what the kernel granted (Linux doubles the size asked,\n"
      "capped by net.core.wmem_max/rmem_max).\n\n"
      "Transports:\n" +
      transports +
      "\nExamples:\n"
      "  sockit bench --quick\n"
      "  sockit bench --transports unix-stream,tcp-nodelay,shm --sizes 64 --backends epoll,io_uring\n"
      "  sockit bench --duration 2 --json bench.json --csv bench.csv\n"
      "  sockit bench --transports unix-stream,tcp-nodelay --rate 10000   (latency under a steady load)\n"
      "  sockit bench --transports unix-stream,tcp --sizes 64,64KiB --buffer-sweep   (Q12: tune the buffers?)\n"
      "  sockit bench --quick --plot bench.svg\n\n"
      "Exit status: 0 every figure measured, 1 a measurement failed, 2 usage error.\n");
  return {app, [args, backends] { return run_bench(*args, backends->count() > 0); }};
}

}  // namespace sockit::cli
