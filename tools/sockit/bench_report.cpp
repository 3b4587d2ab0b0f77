#include "bench_report.hpp"
#include "text_escape.hpp"

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <string_view>

#include <fmt/core.h>

namespace sockit::cli {
namespace {

// The article's trade-off table (its "Performance" and "Typical use" rows, its
// "Scope"), each row beside the transport that measures it. Shared memory is not
// a column there; its words come from the article's list of when to choose what.
struct ArticleRow {
  std::string_view label;
  std::string_view transport;
  std::string_view use;
  std::string_view performance;
  std::string_view scope;
};
constexpr ArticleRow kArticle[] = {
    {"Unix domain socket", "unix-stream", "Local daemons, high-perf IPC", "Very high (kernel, no network)",
     "Local only"},
    {"TCP socket", "tcp", "Network services, clients", "High (kernel, local)", "Local + network"},
    {"UDP socket", "udp", "Streaming, low-latency", "Highest (no connection overhead)", "Local + network"},
    {"Named pipe (FIFO)", "fifo", "Simple cross-process streaming", "High", "Local only"},
    {"Shared memory", "shm", "Maximum local throughput", "May be faster", "Local only"},
};

std::string micros(std::uint64_t nanoseconds) { return fmt::format("{:.2f}", nanoseconds / 1000.0); }

// 1234567 -> "1,234,567": rates are read at a glance.
std::string grouped(double value) {
  const std::string digits = fmt::format("{:.0f}", value);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

void print_article_table(const BenchReport& report) {
  const std::size_t small = report.sizes.front();
  const std::size_t large = report.sizes.back();
  std::vector<std::vector<std::string>> lines;
  for (const ArticleRow& a : kArticle) {
    const BenchRow* rtt = floor_row(report, a.transport, BenchMeasure::rtt, report.rtt_size);
    const BenchRow* rate = floor_row(report, a.transport, BenchMeasure::throughput, small);
    const BenchRow* bulk = floor_row(report, a.transport, BenchMeasure::throughput, large);
    if (rtt == nullptr && rate == nullptr && bulk == nullptr) continue;  // not selected
    const auto shown = [](const BenchRow* row, auto figure) -> std::string {
      return row != nullptr && row->measured() ? figure(*row) : "n/a";
    };
    lines.push_back({std::string(a.label), std::string(a.use), std::string(a.performance), std::string(a.scope),
                     shown(rtt, [](const BenchRow& r) { return micros(r.rtt->p50) + " us"; }),
                     shown(rate, [](const BenchRow& r) { return grouped(r.messages_per_second()); }),
                     shown(bulk, [](const BenchRow& r) { return fmt::format("{:.0f}", r.megabytes_per_second()); })});
  }
  if (lines.empty()) return;
  fmt::print("The article's trade-off table, measured on this machine (raw syscalls; shared memory: sockit::ShmRing)\n");
  fmt::print("{:<20} {:<31} {:<33} {:<16} {:>10} {:>13} {:>13}\n", "transport", "typical use (article)",
             "performance (article)", "scope (article)", "p50 RTT", size_label(small) + " msg/s",
             size_label(large) + " MB/s");
  for (const auto& l : lines) {
    fmt::print("{:<20} {:<31} {:<33} {:<16} {:>10} {:>13} {:>13}\n", l[0], l[1], l[2], l[3], l[4], l[5], l[6]);
  }
  fmt::print("\n");
}

void print_rtt_table(const BenchReport& report) {
  bool header = false;
  for (const BenchRow& row : report.rows) {
    if (row.bench_case.measure != BenchMeasure::rtt || !row.measured()) continue;
    if (!header) {
      fmt::print("Round-trip latency (RTT: request and reply, microseconds), {} messages{}\n",
                 size_label(report.rtt_size),
                 report.timing.rate > 0
                     ? fmt::format(", {:g} round trips/s, each timed from when it was due", report.timing.rate)
                     : "");
      fmt::print("{:<24} {:<15} {:>9} {:>9} {:>9} {:>9} {:>10} {:>12}\n", "transport", "path", "p50", "p90", "p99",
                 "p99.9", "max", "round trips");
      header = true;
    }
    const RttSummary& r = *row.rtt;
    fmt::print("{:<24} {:<15} {:>9} {:>9} {:>9} {:>9} {:>10} {:>12}\n", row.bench_case.transport->name,
               row.bench_case.path.name(), micros(r.p50), micros(r.p90), micros(r.p99), micros(r.p999), micros(r.max),
               grouped(static_cast<double>(r.round_trips)));
  }
  if (header) fmt::print("\n");
}

void print_throughput_table(const BenchReport& report) {
  bool header = false;
  for (const BenchRow& row : report.rows) {
    if (row.bench_case.measure != BenchMeasure::throughput || !row.measured()) continue;
    if (!header) {
      fmt::print("One-way throughput (what the receiver got; MB = 10^6 bytes)\n");
      fmt::print("{:<24} {:<15} {:>8} {:>10} {:>14}\n", "transport", "path", "size", "MB/s", "msg/s");
      header = true;
    }
    fmt::print("{:<24} {:<15} {:>8} {:>10.1f} {:>14}\n", row.bench_case.transport->name, row.bench_case.path.name(),
               size_label(row.bench_case.message_size), row.megabytes_per_second(),
               grouped(row.messages_per_second()));
  }
  if (header) fmt::print("\n");
}

// One line per transport and reason, naming what it left out.
void print_skipped(const BenchReport& report) {
  std::vector<std::pair<std::string, std::vector<std::string>>> groups;
  for (const BenchRow& row : report.rows) {
    if (row.measured()) continue;
    const BenchCase& c = row.bench_case;
    const std::string key = fmt::format("{}: {}", c.transport->name, row.skipped);
    const std::string what = fmt::format("{} {}{}", c.measure == BenchMeasure::rtt ? "RTT" : "throughput",
                                         c.path.name(),
                                         c.measure == BenchMeasure::rtt ? "" : " " + size_label(c.message_size));
    auto it = std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.first == key; });
    if (it == groups.end()) {
      groups.push_back({key, {what}});
    } else {
      it->second.push_back(what);
    }
  }
  if (groups.empty()) return;
  fmt::print("Not measured:\n");
  for (const auto& [key, whats] : groups) {
    std::string list;
    for (const std::string& w : whats) list += (list.empty() ? "" : ", ") + w;
    fmt::print("  {} ({})\n", key, list);
  }
}


// Finite by construction (a zero span gives 0), so JSON never sees NaN.
std::string number(double value) { return std::isfinite(value) ? fmt::format("{:.6g}", value) : "0"; }

std::string csv_field(std::string_view text) {
  if (text.find_first_of(",\"\n") == std::string_view::npos) return std::string(text);
  std::string out = "\"";
  for (const char ch : text) out += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return out + "\"";
}

std::string read_cpu_model() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.starts_with("model name") || line.starts_with("Model")) {
      const auto colon = line.find(':');
      if (colon != std::string::npos && colon + 2 <= line.size()) return line.substr(colon + 2);
    }
  }
  return "unknown";
}

// "default", "4KiB", "1MiB": one word, so the table splits on blanks.
std::string buffer_label(int asked) {
  if (asked == 0) return "default";
  std::string label = size_label(static_cast<std::size_t>(asked));
  std::erase(label, ' ');
  return label;
}

// net.core.wmem_max / rmem_max: the caps on SO_SNDBUF / SO_RCVBUF; "?" if unreadable.
std::string sysctl_value(const char* path) {
  std::ifstream file(path);
  std::string value;
  return file >> value ? value : "?";
}

void print_sweep_table(const BenchReport& report) {
  if (report.sweep.empty()) return;
  fmt::print("Socket buffer sweep (raw syscalls; SO_SNDBUF and SO_RCVBUF set on both ends after connecting; "
             "RTT with {} messages, throughput with {})\n",
             size_label(report.rtt_size), size_label(report.sizes.back()));
  fmt::print("  granted: what getsockopt reports after setting. Linux doubles the size asked for (room for its\n"
             "  bookkeeping) after capping it at net.core.wmem_max / rmem_max (here {} / {} bytes); \"default\"\n"
             "  sets nothing: the kernel's initial size, which TCP autotuning may grow during the run.\n",
             sysctl_value("/proc/sys/net/core/wmem_max"), sysctl_value("/proc/sys/net/core/rmem_max"));
  fmt::print("{:<24} {:>8} {:>12} {:>12} {:>9} {:>9} {:>10}\n", "transport", "buffer", "granted snd", "granted rcv",
             "p50 us", "p99 us", "MB/s");
  for (const BenchRow& rtt : report.sweep) {
    if (rtt.bench_case.measure != BenchMeasure::rtt) continue;
    const auto bulk = std::find_if(report.sweep.begin(), report.sweep.end(), [&](const BenchRow& r) {
      return r.bench_case.measure == BenchMeasure::throughput && r.bench_case.transport == rtt.bench_case.transport &&
             r.bench_case.socket_buffer == rtt.bench_case.socket_buffer;
    });
    const bool bulk_measured = bulk != report.sweep.end() && bulk->measured();
    // Granted sizes are the same for both rows of a size; take whichever was measured.
    const BenchRow& any = rtt.measured() || !bulk_measured ? rtt : *bulk;
    const auto granted = [&](int bytes) { return any.measured() ? grouped(bytes) : std::string("n/a"); };
    fmt::print("{:<24} {:>8} {:>12} {:>12} {:>9} {:>9} {:>10}\n", rtt.bench_case.transport->name,
               buffer_label(*rtt.bench_case.socket_buffer), granted(any.granted_send), granted(any.granted_receive),
               rtt.measured() ? micros(rtt.rtt->p50) : "n/a", rtt.measured() ? micros(rtt.rtt->p99) : "n/a",
               bulk_measured ? fmt::format("{:.1f}", bulk->megabytes_per_second()) : "n/a");
  }
  fmt::print("\n");
}

// One result as a JSON object; `extra` (", \"key\": value" pairs) goes after
// the fields every row has.
std::string row_json(const BenchRow& row, const std::string& extra) {
  const BenchCase& c = row.bench_case;
  std::string out = fmt::format("    {{\"measure\": \"{}\", \"transport\": {}, \"path\": {}, \"message_bytes\": {}{}",
                                c.measure == BenchMeasure::rtt ? "rtt" : "throughput", json_string(c.transport->name),
                                json_string(c.path.name()), c.message_size, extra);
  if (!row.measured()) {
    out += fmt::format(", \"{}\": {}}}", row.failed ? "error" : "skipped", json_string(row.skipped));
  } else if (c.measure == BenchMeasure::rtt) {
    const RttSummary& r = *row.rtt;
    out += fmt::format(
        ", \"round_trips\": {}, \"seconds\": {}, \"rtt_ns\": {{\"min\": {}, \"mean\": {}, \"p50\": {}, \"p90\": {}, "
        "\"p99\": {}, \"p99_9\": {}, \"max\": {}}}}}",
        r.round_trips, number(row.seconds), r.min, number(r.mean), r.p50, r.p90, r.p99, r.p999, r.max);
  } else {
    out += fmt::format(
        ", \"messages\": {}, \"bytes\": {}, \"seconds\": {}, \"messages_per_s\": {}, \"mb_per_s\": {}}}",
        row.messages, row.bytes, number(row.seconds), number(row.messages_per_second()),
        number(row.megabytes_per_second()));
  }
  return out;
}

// A sweep row's buffer fields, for JSON: the size asked (null: the default) and granted.
std::string sweep_json(const BenchRow& row) {
  const int asked = *row.bench_case.socket_buffer;
  return fmt::format(", \"buffer_asked_bytes\": {}, \"buffer_granted_send_bytes\": {}, "
                     "\"buffer_granted_receive_bytes\": {}",
                     asked == 0 ? std::string("null") : std::to_string(asked), row.granted_send, row.granted_receive);
}

}  // namespace

const BenchRow* floor_row(const BenchReport& report, std::string_view transport, BenchMeasure measure,
                          std::size_t size) {
  for (const BenchRow& row : report.rows) {
    const BenchCase& c = row.bench_case;
    const BenchPathKind wanted = c.transport->kind == BenchKind::shm ? BenchPathKind::sockit : BenchPathKind::raw;
    if (c.transport->name == transport && c.measure == measure && c.message_size == size && c.path.kind == wanted) {
      return &row;
    }
  }
  return nullptr;
}

std::string size_label(std::size_t bytes) {
  if (bytes >= (1u << 20) && bytes % (1u << 20) == 0) return fmt::format("{} MiB", bytes >> 20);
  if (bytes >= 1024 && bytes % 1024 == 0) return fmt::format("{} KiB", bytes >> 10);
  return fmt::format("{} B", bytes);
}

BenchMachine describe_machine(const BenchCpus& pinned) {
  BenchMachine machine;
  struct utsname names {};
  machine.kernel = ::uname(&names) == 0 ? fmt::format("{} {} {}", names.sysname, names.release, names.machine)
                                        : "unknown";
  machine.cpu_model = read_cpu_model();
  const long online = ::sysconf(_SC_NPROCESSORS_ONLN);
  machine.cores = online > 0 ? static_cast<unsigned>(online) : 0;
  machine.pinned = pinned;
  return machine;
}

RttSummary summarize(const LatencyHistogram& h) {
  return {h.count(),         h.min(),           h.percentile(50), h.percentile(90),
          h.percentile(99),  h.percentile(99.9), h.max(),         h.mean()};
}

void print_bench_tables(const BenchReport& report) {
  const BenchMachine& m = report.machine;
  fmt::print("sockit bench {}: {}, {}, {} cores{}\n", SOCKIT_VERSION, m.kernel, m.cpu_model, m.cores,
             m.pinned.child ? fmt::format(" (the two processes pinned to CPUs {} and {})", *m.pinned.parent,
                                          *m.pinned.child)
                            : " (one CPU allowed: the two processes share it)");
  fmt::print("Each figure: {:g} s measured after a {:g} s warm-up that is not counted.\n\n",
             std::chrono::duration<double>(report.timing.duration).count(),
             std::chrono::duration<double>(report.timing.warmup).count());
  print_article_table(report);
  print_rtt_table(report);
  print_throughput_table(report);
  print_sweep_table(report);
  print_skipped(report);
  std::fflush(stdout);
}

std::string bench_json(const BenchReport& report) {
  const BenchMachine& m = report.machine;
  std::string out = "{\n";
  out += fmt::format("  \"sockit_version\": {},\n", json_string(SOCKIT_VERSION));
  out += fmt::format(
      "  \"machine\": {{\"kernel\": {}, \"cpu_model\": {}, \"cores\": {}, \"parent_cpu\": {}, \"child_cpu\": {}}},\n",
      json_string(m.kernel), json_string(m.cpu_model), m.cores,
      m.pinned.parent ? std::to_string(*m.pinned.parent) : "null",
      m.pinned.child ? std::to_string(*m.pinned.child) : "null");
  std::string sizes;
  for (std::size_t s : report.sizes) sizes += (sizes.empty() ? "" : ", ") + std::to_string(s);
  std::string backends;
  for (const std::string& b : report.backends) backends += (backends.empty() ? "" : ", ") + json_string(b);
  out += fmt::format(
      "  \"settings\": {{\"duration_s\": {}, \"warmup_s\": {}, \"rtt_rate_per_s\": {}, \"rtt_message_bytes\": {}, "
      "\"sizes\": [{}], \"backends\": [{}]}},\n",
      number(std::chrono::duration<double>(report.timing.duration).count()),
      number(std::chrono::duration<double>(report.timing.warmup).count()),
      report.timing.rate > 0 ? number(report.timing.rate) : "null", report.rtt_size, sizes, backends);
  out += "  \"results\": [";
  bool first = true;
  for (const BenchRow& row : report.rows) {
    out += (first ? "\n" : ",\n") + row_json(row, "");
    first = false;
  }
  out += "\n  ],\n  \"buffer_sweep\": [";
  first = true;
  for (const BenchRow& row : report.sweep) {
    out += (first ? "\n" : ",\n") + row_json(row, sweep_json(row));
    first = false;
  }
  out += "\n  ]\n}\n";
  return out;
}

std::string bench_csv(const BenchReport& report) {
  const BenchMachine& m = report.machine;
  std::string out =
      "measure,transport,path,message_bytes,round_trips,rtt_min_ns,rtt_mean_ns,rtt_p50_ns,rtt_p90_ns,rtt_p99_ns,"
      "rtt_p99_9_ns,rtt_max_ns,messages,bytes,seconds,messages_per_s,mb_per_s,skipped,kernel,cpu_model,cores,"
      "sockit_version,buffer_asked_bytes,buffer_granted_send_bytes,buffer_granted_receive_bytes\n";
  // The detail rows, then the sweep's (the last three columns: its buffer sizes,
  // "default" where nothing was asked).
  std::vector<const BenchRow*> rows;
  rows.reserve(report.rows.size() + report.sweep.size());
  for (const BenchRow& row : report.rows) rows.push_back(&row);
  for (const BenchRow& row : report.sweep) rows.push_back(&row);
  for (const BenchRow* each : rows) {
    const BenchRow& row = *each;
    const BenchCase& c = row.bench_case;
    out += fmt::format("{},{},{},{},", c.measure == BenchMeasure::rtt ? "rtt" : "throughput", c.transport->name,
                       csv_field(c.path.name()), c.message_size);
    if (row.rtt) {
      const RttSummary& r = *row.rtt;
      out += fmt::format("{},{},{},{},{},{},{},{},", r.round_trips, r.min, number(r.mean), r.p50, r.p90, r.p99,
                         r.p999, r.max);
    } else {
      out += ",,,,,,,,";
    }
    if (row.measured() && c.measure == BenchMeasure::throughput) {
      out += fmt::format("{},{},{},{},{},", row.messages, row.bytes, number(row.seconds),
                         number(row.messages_per_second()), number(row.megabytes_per_second()));
    } else {
      out += row.measured() ? fmt::format(",,{},,,", number(row.seconds)) : std::string(",,,,,");
    }
    out += fmt::format("{},{},{},{},{},", csv_field(row.skipped), csv_field(m.kernel), csv_field(m.cpu_model),
                       m.cores, SOCKIT_VERSION);
    if (c.socket_buffer) {
      const std::string asked = *c.socket_buffer == 0 ? std::string("default") : std::to_string(*c.socket_buffer);
      out += fmt::format("{},{},{}\n", asked, row.granted_send, row.granted_receive);
    } else {
      out += ",,\n";
    }
  }
  return out;
}

}  // namespace sockit::cli
