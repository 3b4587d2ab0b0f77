#include "bind_retry_option.hpp"

#include <cmath>

#include "option_checks.hpp"

namespace sockit::cli {

void add_bind_retry_option(CLI::App& command, double& seconds) {
  seconds = kDefaultBindRetrySeconds;
  command
      .add_option("--bind-retry", seconds,
                  "Seconds to keep retrying when the port (or abstract name) is in use, e.g. held for a moment "
                  "by a server just killed; 0: fail at once (default 2). A live server is never displaced")
      ->transform(seconds_in(0, 3600));
}

std::chrono::milliseconds bind_retry_duration(double seconds) {
  return std::chrono::milliseconds(static_cast<long long>(std::ceil(seconds * 1000.0)));
}

}  // namespace sockit::cli
