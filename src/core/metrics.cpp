#include "sockit/metrics.hpp"

#include <algorithm>
#include <cassert>

namespace sockit {
namespace {

bool is_name_start(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) noexcept { return is_name_start(c) || (c >= '0' && c <= '9'); }

}  // namespace

bool is_valid_metric_name(std::string_view name) noexcept {
  if (name.empty() || !(is_name_start(name.front()) || name.front() == ':')) return false;
  return std::ranges::all_of(name, [](char c) { return is_name_char(c) || c == ':'; });
}

bool is_valid_label_name(std::string_view name) noexcept {
  if (name.empty() || !is_name_start(name.front()) || name.starts_with("__")) return false;
  return std::ranges::all_of(name, is_name_char);
}

MetricLabels with_labels(const MetricLabels& labels, MetricLabels more) {
  MetricLabels all = labels;
  all.insert(all.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
  return all;
}

void MetricsSnapshot::append(MetricSample sample) {
  assert(is_valid_metric_name(sample.name) && "sockit: not a valid metric name");
  assert(std::ranges::all_of(sample.labels, [](const auto& l) { return is_valid_label_name(l.first); }) &&
         "sockit: not a valid label name");
  samples_.push_back(std::move(sample));
}

void MetricsSnapshot::add_counter(std::string_view name, std::string_view help, double value, MetricLabels labels) {
  append({std::string(name), std::string(help), MetricSample::Kind::counter, std::move(labels), value});
}

void MetricsSnapshot::add_gauge(std::string_view name, std::string_view help, double value, MetricLabels labels) {
  append({std::string(name), std::string(help), MetricSample::Kind::gauge, std::move(labels), value});
}

const MetricSample* MetricsSnapshot::find(std::string_view name, const MetricLabels& labels) const {
  for (const MetricSample& sample : samples_) {
    if (sample.name != name) continue;
    const bool all = std::ranges::all_of(labels, [&](const auto& wanted) {
      return std::ranges::find(sample.labels, wanted) != sample.labels.end();
    });
    if (all) return &sample;
  }
  return nullptr;
}

}  // namespace sockit
