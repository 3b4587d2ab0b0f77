// A MetricsSnapshot in Prometheus's text exposition format, version 0.0.4: what
// `--metrics` serves on GET /metrics.
//
// The text is written by prometheus-cpp's TextSerializer (Debian:
// prometheus-cpp-dev, 1.0.1), which does the format's work: one `# HELP` and
// `# TYPE` per family, label values escaped (\\, \", \n), numbers in the classic
// locale with +Inf/-Inf/NaN spelled as the format wants. Two things are done
// here: samples are grouped into families by name (the format wants a family's
// samples together, under one HELP/TYPE), in the order each name first appears;
// and the help text is escaped (\\ and \n) before it is handed over, because
// 1.0.1 writes it verbatim (a backslash or a newline in a help text would break
// the exposition). docs/METRICS.md says why the serializer is prometheus-cpp's and
// the HTTP server sockit's own.
#pragma once

#include <string>
#include <string_view>

#include "sockit/metrics.hpp"

namespace sockit::cli {

// The exposition's Content-Type.
inline constexpr std::string_view kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

[[nodiscard]] std::string prometheus_text(const MetricsSnapshot& snapshot);

// HELP text escaped as the format wants it: \ as \\, a newline as \n.
[[nodiscard]] std::string escape_help(std::string_view help);

}  // namespace sockit::cli
