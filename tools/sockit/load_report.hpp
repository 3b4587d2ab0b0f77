// What `sockit load` prints on stdout when it ends: a few lines for a person, or
// (--json) one JSON object with every figure, for scripts. Fields per mode are
// listed in the README; latencies are round trips in nanoseconds in JSON.
#pragma once

#include <string>

#include "load_run.hpp"

namespace sockit::cli {

struct LoadReportInput {
  const LoadOptions& options;
  const std::string& address_text;  // as the user wrote it
  const LoadResult& result;
};

void print_load_report(const LoadReportInput& input);
void print_load_json(const LoadReportInput& input);

}  // namespace sockit::cli
