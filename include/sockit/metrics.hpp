// MetricsSnapshot: the figures of sockit's servers, connections, datagram
// endpoints and event loops at one moment, as a flat list of named samples ready
// for an exporter (the CLI's `--metrics` serves them in Prometheus's text format).
//
// Every stats struct has an append_metrics(MetricsSnapshot&, const Stats&, labels)
// beside it (event/loop_metrics.hpp, net/metrics.hpp), and net::Server has a
// member that appends everything a running server knows, live connections and
// their TCP_INFO included. The names, types, labels and meanings are listed in
// docs/METRICS.md and are stable: a dashboard built on them keeps working.
//
// Names follow Prometheus's conventions: `sockit_<component>_<what>`, snake_case,
// base units (seconds, bytes) in the name, counters end in `_total`. A sample
// carries its help text, so an exporter needs nothing else. Labels are few and
// bounded (a close reason, a backend name), never one per connection or peer: a
// server with 10,000 connections gives the same few dozen samples as one with 1.
//
// Why a plain list of values and not a registry of live counter objects (the
// prometheus-cpp way): sockit's counters already exist, as relaxed atomics the
// loop threads keep, and are read by stats() calls; a registry would be a second
// copy of each, kept in step on the hot path or refreshed at every scrape. A
// snapshot is taken when someone asks, costs nothing in between, and keeps
// libsockit free of any metrics library.
//
// Threads: a value type; fill it on one thread at a time. What may be read from
// which thread is each append function's business (see their headers).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sockit {

// Label name/value pairs, in the order an exporter should print them.
using MetricLabels = std::vector<std::pair<std::string, std::string>>;

struct MetricSample {
  // counter: only ever grows while the process lives (a restart starts it at 0);
  // gauge: a value that goes up and down (live connections, a mean RTT).
  enum class Kind : std::uint8_t { counter, gauge };

  std::string name;
  std::string help;  // one line, for a person: what it counts, in which unit
  Kind kind = Kind::gauge;
  MetricLabels labels;
  double value = 0;
};

class MetricsSnapshot {
 public:
  using const_iterator = std::vector<MetricSample>::const_iterator;

  // Appends one sample. `name` must be a valid metric name and each label name a
  // valid label name (see below): a debug build asserts it, since the names are
  // the caller's constants, never input.
  void append(MetricSample sample);
  void add_counter(std::string_view name, std::string_view help, double value, MetricLabels labels = {});
  void add_gauge(std::string_view name, std::string_view help, double value, MetricLabels labels = {});

  [[nodiscard]] const_iterator begin() const noexcept { return samples_.begin(); }
  [[nodiscard]] const_iterator end() const noexcept { return samples_.end(); }
  [[nodiscard]] std::size_t size() const noexcept { return samples_.size(); }
  [[nodiscard]] bool empty() const noexcept { return samples_.empty(); }
  [[nodiscard]] const std::vector<MetricSample>& samples() const noexcept { return samples_; }

  // The first sample named `name` whose labels include every pair of `labels`
  // (for tests and for callers that want one figure back); nullptr if none.
  [[nodiscard]] const MetricSample* find(std::string_view name, const MetricLabels& labels = {}) const;

 private:
  std::vector<MetricSample> samples_;
};

// Prometheus's grammar: a metric name is [a-zA-Z_:][a-zA-Z0-9_:]*, a label name
// [a-zA-Z_][a-zA-Z0-9_]* and does not start with "__" (reserved).
[[nodiscard]] bool is_valid_metric_name(std::string_view name) noexcept;
[[nodiscard]] bool is_valid_label_name(std::string_view name) noexcept;

// `labels` with `more` after them: how an append function adds its own labels
// (a close reason) to the caller's (which server).
[[nodiscard]] MetricLabels with_labels(const MetricLabels& labels, MetricLabels more);

}  // namespace sockit
