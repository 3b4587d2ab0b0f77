// `sockit bench`: a tiny run finishes by itself and every row it prints has
// figures (non-zero; no speed is asserted), the JSON parses and has every field,
// what cannot be measured is said, and bad options are usage errors (exit 2).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cli_harness.hpp"
#include "support/temp_dir.hpp"

namespace sockit::test::cli {
namespace {

// Generous for a loaded machine under a sanitizer: the run below is ~40
// measurements of 20 ms, each with a fork.
constexpr auto kRunWait = std::chrono::seconds(90);

struct BenchOutput {
  Exit exit;
  std::string out;
  std::string err;
};

BenchOutput bench(const std::vector<std::string>& args, std::chrono::milliseconds wait = kWait) {
  std::vector<std::string> argv = {sockit_bin(), "bench"};
  argv.insert(argv.end(), args.begin(), args.end());
  Process child(argv);
  const Exit exit = child.finish(wait);
  return {exit, child.out(), child.err()};
}

std::vector<std::string> words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

double figure(std::string text) {
  std::erase(text, ',');
  return std::stod(text);
}

// The lines of the table whose title starts with `title`, up to the blank line.
std::vector<std::string> table(const std::string& out, std::string_view title) {
  std::istringstream in(out);
  std::vector<std::string> rows;
  bool inside = false;
  bool header_seen = false;
  for (std::string line; std::getline(in, line);) {
    if (!inside) {
      inside = line.starts_with(title);
      continue;
    }
    if (!header_seen) {  // the column names
      header_seen = true;
      continue;
    }
    if (line.empty()) break;
    rows.push_back(line);
  }
  return rows;
}

// Shared by the tests below: one tiny run over a stream, a datagram, a pipe and
// the ring, every path, one backend.
class BenchRun : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    run_ = new BenchOutput(bench({"--duration", "0.02", "--transports", "socketpair-stream,udp,fifo,shm", "--sizes",
                          "64,64KiB", "--backends", "epoll", "--json", dir_->file("bench.json"), "--csv",
                          dir_->file("bench.csv")},
                         kRunWait));
  }
  static void TearDownTestSuite() {
    delete run_;
    delete dir_;
  }
  static TempDir* dir_;
  static BenchOutput* run_;
};
TempDir* BenchRun::dir_ = nullptr;
BenchOutput* BenchRun::run_ = nullptr;

TEST_F(BenchRun, FinishesByItselfWithExitStatusZero) {
  EXPECT_EQ(run_->exit.code, 0) << run_->exit << "\n" << run_->err << run_->out;
  EXPECT_FALSE(run_->exit.timed_out);
}

TEST_F(BenchRun, EveryRttRowHasNonZeroPercentiles) {
  const auto rows = table(run_->out, "Round-trip latency (RTT");
  // socketpair-stream: raw, sockit, loop/epoll; udp: the same; fifo: raw; shm: sockit.
  ASSERT_EQ(rows.size(), 8u) << run_->out;
  for (const std::string& row : rows) {
    const auto w = words(row);
    ASSERT_EQ(w.size(), 8u) << row;
    for (std::size_t i = 2; i < w.size(); ++i) EXPECT_GT(figure(w[i]), 0) << row;
    EXPECT_LE(figure(w[2]), figure(w[3])) << "p50 above p90: " << row;
    EXPECT_LE(figure(w[5]), figure(w[6])) << "p99.9 above max: " << row;
  }
}

TEST_F(BenchRun, EveryThroughputRowHasNonZeroRates) {
  const auto rows = table(run_->out, "One-way throughput");
  // Two sizes: raw, sockit and loop/epoll for the sockets, raw for fifo, sockit
  // for shm; udp has no 64 KiB row.
  ASSERT_EQ(rows.size(), 2u * 3 + 2 + 2 + 1 * 3) << run_->out;
  for (const std::string& row : rows) {
    const auto w = words(row);
    ASSERT_EQ(w.size(), 6u) << row;
    EXPECT_GT(figure(w[4]), 0) << row;
    EXPECT_GT(figure(w[5]), 0) << row;
  }
}

TEST_F(BenchRun, TheArticleTableComesFirstWithMeasuredColumns) {
  const auto article = run_->out.find("The article's trade-off table");
  ASSERT_NE(article, std::string::npos) << run_->out;
  EXPECT_LT(article, run_->out.find("Round-trip latency"));
  const auto rows = table(run_->out, "The article's trade-off table");
  ASSERT_EQ(rows.size(), 3u) << run_->out;  // UDP, FIFO, shared memory were selected
  EXPECT_TRUE(rows[0].starts_with("UDP socket")) << rows[0];
  EXPECT_NE(rows[0].find("Highest (no connection overhead)"), std::string::npos) << rows[0];
  EXPECT_TRUE(rows[0].ends_with("n/a")) << "UDP has no 64 KiB figure: " << rows[0];
  EXPECT_TRUE(rows[1].starts_with("Named pipe (FIFO)")) << rows[1];
  EXPECT_TRUE(rows[2].starts_with("Shared memory")) << rows[2];
  for (const std::string& row : {rows[1], rows[2]}) {
    const auto w = words(row);
    EXPECT_GT(figure(w[w.size() - 1]), 0) << row;
    EXPECT_GT(figure(w[w.size() - 2]), 0) << row;
    EXPECT_GT(figure(w[w.size() - 4]), 0) << row;  // p50 RTT, before its "us"
  }
}

TEST_F(BenchRun, SaysWhatWasNotMeasuredAndWhy) {
  EXPECT_NE(run_->out.find("udp: larger than a UDP payload can be"), std::string::npos) << run_->out;
  EXPECT_NE(run_->out.find("fifo: sockit has no pipe API"), std::string::npos) << run_->out;
}

TEST_F(BenchRun, JsonParsesAndHasEveryField) {
  if (!have_program("python3")) GTEST_SKIP() << "python3 is not installed (it parses the JSON)";
  // Every field of every row; each measured figure positive.
  const std::string check = R"(
import json, sys
d = json.load(open(sys.argv[1]))
assert d["sockit_version"]
m = d["machine"]
assert m["kernel"] and m["cpu_model"] and m["cores"] >= 1, m
assert "parent_cpu" in m and "child_cpu" in m
s = d["settings"]
assert s["duration_s"] > 0 and s["warmup_s"] > 0 and s["rtt_message_bytes"] == 64, s
assert s["sizes"] == [64, 65536] and s["backends"] == ["epoll"], s
assert s["rtt_rate_per_s"] is None, s
measured = 0
for r in d["results"]:
    for k in ("measure", "transport", "path", "message_bytes"):
        assert k in r, r
    if "skipped" in r:
        assert r["skipped"], r
        continue
    assert "error" not in r, r
    measured += 1
    assert r["seconds"] > 0, r
    if r["measure"] == "rtt":
        assert r["round_trips"] > 0, r
        for k in ("min", "mean", "p50", "p90", "p99", "p99_9", "max"):
            assert r["rtt_ns"][k] > 0, (k, r)
    else:
        for k in ("messages", "bytes", "messages_per_s", "mb_per_s"):
            assert r[k] > 0, (k, r)
assert measured == 21, measured
print("ok")
)";
  Process python({"python3", "-c", check, dir_->file("bench.json")});
  const Exit exit = python.finish();
  EXPECT_EQ(exit.code, 0) << python.err();
  EXPECT_EQ(python.out(), "ok\n") << python.err();
}

TEST_F(BenchRun, CsvHasAHeaderAndOneLinePerRow) {
  std::ifstream csv(dir_->file("bench.csv"));
  std::vector<std::string> lines;
  for (std::string line; std::getline(csv, line);) lines.push_back(line);
  ASSERT_FALSE(lines.empty());
  EXPECT_TRUE(lines[0].starts_with("measure,transport,path,message_bytes,")) << lines[0];
  // 4 transports x (3 RTT paths + 2 sizes x 3 throughput paths), measured or not.
  EXPECT_EQ(lines.size(), 1u + 4 * (3 + 2 * 3));
}

TEST(CliBench, AFixedRateRunPacesItsPingsAndSaysSo) {
  // 2,000 round trips/s for 0.1 s: 200 are due in the measured span, so a
  // closed loop (as many as the replies allow) would show as more. Fewer is
  // allowed: a loaded machine falls behind and each late ping counts its wait.
  const BenchOutput run = bench({"--duration", "0.1", "--transports", "socketpair-stream", "--sizes", "64",
                                 "--backends", "epoll", "--rate", "2000"},
                                kRunWait);
  ASSERT_EQ(run.exit.code, 0) << run.exit << " " << run.err;
  EXPECT_NE(run.out.find("64 B messages, 2000 round trips/s, each timed from when it was due"), std::string::npos)
      << run.out;
  const auto rows = table(run.out, "Round-trip latency (RTT");
  ASSERT_EQ(rows.size(), 3u) << run.out;
  for (const std::string& row : rows) {
    const auto w = words(row);
    ASSERT_EQ(w.size(), 8u) << row;
    for (std::size_t i = 2; i < w.size(); ++i) EXPECT_GT(figure(w[i]), 0) << row;
    EXPECT_LE(figure(w[7]), 201) << "more round trips than were due: " << row;
  }
}

TEST(CliBench, BadOptionsAreUsageErrors) {
  const std::vector<std::vector<std::string>> bad = {
      {"--transports", "carrier-pigeon"}, {"--sizes", "0"},        {"--sizes", "1M"},
      {"--sizes", "64x"},                 {"--backends", "kqueue"}, {"--duration", "0"},
      {"--duration", "abc"},              {"--quick", "--duration", "1"}, {"extra"},
      {"--rate", "0"},                    {"--rate", "-5"},
      {"--plot", "bench.pdf"},            {"--plot", "bench"},     {"--plot", "dir.svg/"},
      {"--transports", "udp,pipe", "--buffer-sweep"},  // no stream socket to sweep
  };
  for (const auto& args : bad) {
    const BenchOutput run = bench(args);
    EXPECT_EQ(run.exit.code, 2) << args[0] << ": " << run.exit << " " << run.err;
    EXPECT_TRUE(run.err.starts_with("sockit: ")) << run.err;
    EXPECT_TRUE(run.out.empty()) << "nothing is measured before the options are checked: " << run.out;
  }
}

TEST(CliBench, AnUnwritableJsonFileFailsBeforeMeasuring) {
  const BenchOutput run = bench({"--transports", "pipe", "--json", "/nonexistent-dir/bench.json"});
  EXPECT_EQ(run.exit.code, 1) << run.exit << " " << run.err;
  EXPECT_NE(run.err.find("sockit: bench /nonexistent-dir/bench.json: open: no such file"), std::string::npos)
      << run.err;
  EXPECT_TRUE(run.out.empty()) << run.out;
}

// The kernel's cap on SO_SNDBUF/SO_RCVBUF requests (net.core.wmem_max/rmem_max).
long sysctl(const char* path) {
  std::ifstream file(path);
  long value = 0;
  file >> value;
  return value;
}

// The sweep table's rows, split into words: from its column names to the blank line.
std::vector<std::vector<std::string>> sweep_rows(const std::string& out) {
  const auto title = out.find("Socket buffer sweep (raw syscalls");
  if (title == std::string::npos) return {};
  std::istringstream in(out.substr(out.find("granted snd", title)));
  std::string line;
  std::getline(in, line);
  std::vector<std::vector<std::string>> rows;
  while (std::getline(in, line) && !line.empty()) rows.push_back(words(line));
  return rows;
}

TEST(CliBench, TheBufferSweepMeasuresEverySizeAndSaysWhatTheKernelGranted) {
  TempDir dir;
  const BenchOutput run = bench({"--duration", "0.01", "--transports", "socketpair-stream", "--sizes", "64,64KiB",
                                 "--backends", "epoll", "--buffer-sweep", "--json", dir.file("bench.json"), "--csv",
                                 dir.file("bench.csv")},
                                kRunWait);
  ASSERT_EQ(run.exit.code, 0) << run.exit << " " << run.err;
  const auto title = run.out.find("Socket buffer sweep (raw syscalls");
  ASSERT_NE(title, std::string::npos) << run.out;
  EXPECT_GT(title, run.out.find("One-way throughput")) << "the sweep comes after the other tables";
  EXPECT_NE(run.out.find("Linux doubles the size asked for"), std::string::npos) << run.out;
  const auto rows = sweep_rows(run.out);
  const std::vector<std::pair<std::string, long>> asked = {{"default", 0},    {"4KiB", 4096},     {"16KiB", 16384},
                                                           {"64KiB", 65536},  {"256KiB", 262144}, {"1MiB", 1 << 20},
                                                           {"4MiB", 4 << 20}};
  ASSERT_EQ(rows.size(), asked.size()) << run.out;
  const long caps[] = {sysctl("/proc/sys/net/core/wmem_max"), sysctl("/proc/sys/net/core/rmem_max")};
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& w = rows[i];
    ASSERT_EQ(w.size(), 7u) << w[0];
    EXPECT_EQ(w[0], "socketpair-stream");
    EXPECT_EQ(w[1], asked[i].first);
    for (std::size_t k = 2; k < w.size(); ++k) EXPECT_GT(figure(w[k]), 0) << w[1] << " column " << k;
    if (asked[i].second == 0) continue;
    // Linux: twice what was asked, after capping the request at the sysctl.
    for (int k = 0; k < 2; ++k) {
      const long cap = caps[k] > 0 ? caps[k] : asked[i].second;
      EXPECT_GE(figure(w[2 + k]), 2.0 * std::min(asked[i].second, cap)) << w[1] << (k == 0 ? " snd" : " rcv");
    }
  }
  // CSV: the detail rows (3 RTT paths, 2 sizes x 3 throughput paths), then the
  // sweep's 14, which alone fill the buffer columns.
  std::ifstream csv(dir.file("bench.csv"));
  std::vector<std::string> lines;
  for (std::string l; std::getline(csv, l);) lines.push_back(l);
  ASSERT_EQ(lines.size(), 1u + 9 + 14);
  EXPECT_TRUE(lines[0].ends_with(",buffer_asked_bytes,buffer_granted_send_bytes,buffer_granted_receive_bytes"));
  EXPECT_TRUE(lines[9].ends_with(",,,")) << lines[9];
  EXPECT_NE(lines[10].find(",default,"), std::string::npos) << lines[10];
  EXPECT_NE(lines[23].find(",4194304,"), std::string::npos) << lines[23];
  if (!have_program("python3")) GTEST_SKIP() << "python3 is not installed (it parses the JSON)";
  const std::string check = R"(
import json, sys
d = json.load(open(sys.argv[1]))
sweep = d["buffer_sweep"]
assert len(sweep) == 14, len(sweep)
assert [r["buffer_asked_bytes"] for r in sweep[::2]] == [None, 4096, 16384, 65536, 262144, 1048576, 4194304], sweep
for r in sweep:
    assert r["path"] == "raw" and r["transport"] == "socketpair-stream", r
    assert r["buffer_granted_send_bytes"] > 0 and r["buffer_granted_receive_bytes"] > 0, r
    assert r["measure"] == ("rtt" if r["message_bytes"] == 64 else "throughput"), r
    assert (r["rtt_ns"]["p99"] if r["measure"] == "rtt" else r["mb_per_s"]) > 0, r
print("ok")
)";
  Process python({"python3", "-c", check, dir.file("bench.json")});
  const Exit exit = python.finish();
  EXPECT_EQ(exit.code, 0) << python.err();
  EXPECT_EQ(python.out(), "ok\n") << python.err();
}

TEST(CliBench, QuickSweepsFourSizes) {
  const BenchOutput run = bench({"--quick", "--transports", "unix-stream", "--sizes", "64", "--backends", "epoll",
                                 "--buffer-sweep"},
                                kRunWait);
  ASSERT_EQ(run.exit.code, 0) << run.exit << " " << run.err;
  std::vector<std::string> buffers;
  for (const auto& w : sweep_rows(run.out)) buffers.push_back(w.at(1));
  EXPECT_EQ(buffers, (std::vector<std::string>{"default", "4KiB", "64KiB", "1MiB"})) << run.out;
}

TEST(CliBench, PlotDrawsAnSvgWithGnuplot) {
  if (!have_program("gnuplot")) GTEST_SKIP() << "gnuplot is not installed (Debian: gnuplot-nox)";
  TempDir dir;
  const BenchOutput run = bench({"--duration", "0.01", "--transports", "socketpair-stream,pipe", "--sizes", "64",
                                 "--backends", "epoll", "--plot", dir.file("bench.svg")},
                                kRunWait);
  ASSERT_EQ(run.exit.code, 0) << run.exit << " " << run.err;
  std::ifstream svg(dir.file("bench.svg"));
  std::string head(5, '\0');
  svg.read(head.data(), static_cast<std::streamsize>(head.size()));
  EXPECT_TRUE(head == "<?xml" || head.starts_with("<svg")) << head;
}

TEST(CliBench, AnUnwritablePlotFileFailsBeforeMeasuring) {
  if (!have_program("gnuplot")) GTEST_SKIP() << "gnuplot is not installed (its absence is reported first)";
  const BenchOutput run = bench({"--transports", "pipe", "--plot", "/nonexistent-dir/bench.svg"});
  EXPECT_EQ(run.exit.code, 1) << run.exit << " " << run.err;
  EXPECT_NE(run.err.find("sockit: bench /nonexistent-dir/bench.svg: open: no such file"), std::string::npos)
      << run.err;
  EXPECT_TRUE(run.out.empty()) << run.out;
}

TEST(CliBench, PlotWithoutGnuplotFailsBeforeMeasuring) {
  TempDir dir;  // an empty PATH directory: no gnuplot in it
  Process child({"env", "PATH=" + dir.path(), sockit_bin(), "bench", "--transports", "pipe", "--plot",
                 dir.file("bench.svg")});
  const Exit exit = child.finish(kWait);
  EXPECT_EQ(exit.code, 1) << exit << " " << child.err();
  EXPECT_NE(child.err().find("sockit: bench --plot " + dir.file("bench.svg") + ": gnuplot is not installed"),
            std::string::npos)
      << child.err();
  EXPECT_TRUE(child.out().empty()) << child.out();
  EXPECT_NE(::access(dir.file("bench.svg").c_str(), F_OK), 0) << "no empty picture left behind";
}

}  // namespace
}  // namespace sockit::test::cli
