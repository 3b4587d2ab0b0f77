#include "bench_plot.hpp"

#include <fcntl.h>
#include <fmt/core.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

#include "sockit/fd.hpp"

extern char** environ;

namespace sockit::cli {
namespace {

constexpr int kGnuplotTimeoutMs = 60'000;

// A gnuplot single-quoted string: a quote is written twice.
std::string quoted(std::string_view text) {
  std::string out = "'";
  for (const char ch : text) out += ch == '\'' ? std::string("''") : std::string(1, ch);
  return out + "'";
}

// The files this plot writes in the temporary directory, removed whatever happens
// (the directory itself is the caller's, and must be empty to go).
class ScratchFiles {
 public:
  explicit ScratchFiles(std::string dir) : dir_(std::move(dir)) {}
  ScratchFiles(const ScratchFiles&) = delete;
  ScratchFiles& operator=(const ScratchFiles&) = delete;
  ~ScratchFiles() {
    for (const std::string& path : made_) ::unlink(path.c_str());
  }
  std::string make(std::string_view name) {
    made_.push_back(fmt::format("{}/plot-{}", dir_, name));
    return made_.back();
  }

 private:
  std::string dir_;
  std::vector<std::string> made_;
};

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream file(path, std::ios::out | std::ios::trunc);
  file << text;
  file.flush();
  return static_cast<bool>(file);
}

std::string read_file(const std::string& path) {
  std::ifstream file(path);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

// The transports in the order of the run, each once.
std::vector<std::string_view> transports_of(const BenchReport& report) {
  std::vector<std::string_view> names;
  for (const BenchRow& row : report.rows) {
    const std::string_view name = row.bench_case.transport->name;
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  return names;
}

// Runs gnuplot on `script`, its messages into `errors`; waits at most
// kGnuplotTimeoutMs (a pidfd to poll), then kills it. nullopt when it succeeded.
std::optional<std::string> run_gnuplot(const std::string& script, const std::string& errors) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, errors.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  std::string program = "gnuplot";
  std::vector<char*> argv = {program.data(), const_cast<char*>(script.c_str()), nullptr};
  pid_t pid = -1;
  const int spawned = ::posix_spawnp(&pid, "gnuplot", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) return fmt::format("cannot run gnuplot: {}", std::generic_category().message(spawned));
  Fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (pidfd) {
    pollfd ready{pidfd.get(), POLLIN, 0};
    int polled = 0;
    while ((polled = ::poll(&ready, 1, kGnuplotTimeoutMs)) < 0 && errno == EINTR) {
    }
    if (polled == 0) ::kill(pid, SIGKILL);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return std::nullopt;
  std::string message = read_file(errors);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  if (WIFSIGNALED(status))
    return fmt::format("gnuplot ended by signal {} (after {} s at most)", WTERMSIG(status),
                       kGnuplotTimeoutMs / 1000);
  return fmt::format("gnuplot failed (exit status {}){}{}", WEXITSTATUS(status), message.empty() ? "" : ": ",
                     message);
}

}  // namespace

std::optional<std::string_view> plot_format(std::string_view file) {
  const auto dot = file.rfind('.');
  if (dot == std::string_view::npos || dot == 0 || file[dot - 1] == '/') return std::nullopt;
  const std::string_view extension = file.substr(dot + 1);
  if (extension == "svg" || extension == "png") return extension;
  return std::nullopt;
}

bool have_gnuplot() {
  const char* path = std::getenv("PATH");
  std::string_view dirs = path != nullptr ? path : "/usr/bin:/bin";
  while (!dirs.empty()) {
    const auto colon = dirs.find(':');
    const std::string_view dir = dirs.substr(0, colon);
    const std::string candidate = fmt::format("{}/gnuplot", dir.empty() ? "." : dir);
    if (::access(candidate.c_str(), X_OK) == 0) return true;
    if (colon == std::string_view::npos) break;
    dirs.remove_prefix(colon + 1);
  }
  return false;
}

std::optional<std::string> draw_bench_plot(const BenchReport& report, const std::string& file,
                                           const std::string& temp_dir) {
  const std::size_t large = report.sizes.back();
  std::string rtt_data;
  std::string rate_data;
  for (const std::string_view name : transports_of(report)) {
    const BenchRow* rtt = floor_row(report, name, BenchMeasure::rtt, report.rtt_size);
    if (rtt != nullptr && rtt->measured()) {
      rtt_data += fmt::format("\"{}\" {:.3f} {:.3f}\n", name, rtt->rtt->p50 / 1000.0, rtt->rtt->p99 / 1000.0);
    }
    const BenchRow* bulk = floor_row(report, name, BenchMeasure::throughput, large);
    if (bulk != nullptr && bulk->measured())
      rate_data += fmt::format("\"{}\" {:.3f}\n", name, bulk->megabytes_per_second());
  }
  if (rtt_data.empty() && rate_data.empty()) return "nothing was measured to draw";

  ScratchFiles scratch(temp_dir);
  const std::string rtt_file = scratch.make("rtt.dat");
  const std::string rate_file = scratch.make("throughput.dat");
  const std::string script_file = scratch.make("script.gp");
  const std::string errors_file = scratch.make("gnuplot.err");
  const int panels = (rtt_data.empty() ? 0 : 1) + (rate_data.empty() ? 0 : 1);
  const BenchMachine& m = report.machine;

  std::string script;
  script +=
      *plot_format(file) == "png"
          ? fmt::format("set terminal pngcairo noenhanced size {},560 font 'sans,10'\n", 560 * panels + 80)
          : fmt::format("set terminal svg noenhanced size {},560 dynamic font 'sans,11'\n",
                        560 * panels + 80);
  script += fmt::format("set output {}\n", quoted(file));
  script += fmt::format("set multiplot layout 1,{} title {}\n", panels,
                        quoted(fmt::format("sockit bench {}: {}, {} ({} cores)", SOCKIT_VERSION, m.kernel,
                                           m.cpu_model, m.cores)));
  script +=
      "set style data histograms\n"
      "set style histogram clustered gap 1\n"
      "set style fill solid 0.85 border -1\n"
      "set boxwidth 0.9\n"
      "set xtics rotate by -35 left nomirror\n"
      "set grid ytics\n"
      "set key top left\n"
      "set bmargin 9\n";
  if (!rtt_data.empty()) {
    // Bars on a log scale need a floor below the smallest figure: 10 ns.
    script += fmt::format(
        "set logscale y\nset yrange [0.01:*]\nset ylabel 'microseconds (log scale)'\n"
        "set title {}\nplot {} using 2:xtic(1) title 'p50', '' using 3 title 'p99'\n",
        quoted(fmt::format("Round-trip latency (RTT), {} messages, raw syscalls (shm: sockit::ShmRing)",
                           size_label(report.rtt_size))),
        quoted(rtt_file));
  }
  if (!rate_data.empty()) {
    script += fmt::format(
        "unset logscale y\nset yrange [0:*]\nset ylabel 'MB/s (10^6 bytes)'\n"
        "set title {}\nplot {} using 2:xtic(1) title 'MB/s'\n",
        quoted(fmt::format("One-way throughput, {} messages, raw syscalls (shm: sockit::ShmRing)",
                           size_label(large))),
        quoted(rate_file));
  }
  script += "unset multiplot\n";

  if (!write_file(rtt_file, rtt_data) || !write_file(rate_file, rate_data) ||
      !write_file(script_file, script)) {
    return fmt::format("cannot write gnuplot's input in {}", temp_dir);
  }
  return run_gnuplot(script_file, errors_file);
}

}  // namespace sockit::cli
