#include "metrics_text.hpp"

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <unordered_map>
#include <vector>

namespace sockit::cli {

std::string escape_help(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (const char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string prometheus_text(const MetricsSnapshot& snapshot) {
  std::vector<prometheus::MetricFamily> families;
  std::unordered_map<std::string_view, std::size_t> family_of;  // name -> index in families
  for (const MetricSample& sample : snapshot) {
    auto [at, added] = family_of.try_emplace(sample.name, families.size());
    if (added) {
      prometheus::MetricFamily family;
      family.name = sample.name;
      family.help = escape_help(sample.help);
      family.type = sample.kind == MetricSample::Kind::counter ? prometheus::MetricType::Counter
                                                               : prometheus::MetricType::Gauge;
      families.push_back(std::move(family));
    }
    prometheus::MetricFamily& family = families[at->second];
    prometheus::ClientMetric metric;
    for (const auto& [name, value] : sample.labels) metric.label.push_back({name, value});
    // The family's type decides which field the serializer prints: a sample that
    // disagrees with its family's first (a bug in its appender) still shows.
    if (family.type == prometheus::MetricType::Counter) {
      metric.counter.value = sample.value;
    } else {
      metric.gauge.value = sample.value;
    }
    family.metric.push_back(std::move(metric));
  }
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace sockit::cli
