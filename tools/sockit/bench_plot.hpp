// `sockit bench --plot FILE.svg|png`: the figures as a picture, drawn by gnuplot
// (Debian package gnuplot-nox) run as a child process on a script and data files
// written to the run's temporary directory: RTT p50 and p99 per transport (log
// scale) beside one-way throughput per transport, both from the floor path (raw
// syscalls; sockit for the shared-memory ring).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "bench_report.hpp"

namespace sockit::cli {

// "svg" or "png" from the file name's extension; nullopt for any other.
[[nodiscard]] std::optional<std::string_view> plot_format(std::string_view file);

// Whether an executable gnuplot is on PATH: checked before anything is measured.
[[nodiscard]] bool have_gnuplot();

// Draws `report` into `file`; the data and script go to `temp_dir` and are
// removed again. Returns why it failed (gnuplot's own message when it has one),
// or nullopt when the picture was written. gnuplot gets 60 s, then is killed.
[[nodiscard]] std::optional<std::string> draw_bench_plot(const BenchReport& report, const std::string& file,
                                                         const std::string& temp_dir);

}  // namespace sockit::cli
