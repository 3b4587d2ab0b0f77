#include "sockit/event/loop_metrics.hpp"

#include <array>
#include <string_view>

#include "event/loop_counters.hpp"

namespace sockit::event {
namespace {

struct LoopMetric {
  LoopStatsField field;
  MetricSample::Kind kind;
  std::string_view name;
  std::string_view help;
};

using enum MetricSample::Kind;

// One entry per LoopStats field, in kLoopStatsFields' order (checked below), so a
// new counter cannot be added to the loop without a name here.
constexpr std::array<LoopMetric, kLoopStatsFields.size()> kLoopMetrics = {{
    {&LoopStats::turns, counter, "sockit_loop_turns_total", "Event loop iterations."},
    {&LoopStats::syscalls_wait, counter, "sockit_loop_waits_total",
     "Waits for events: epoll_wait, poll, select or io_uring_enter calls."},
    {&LoopStats::timers_fired, counter, "sockit_loop_timers_fired_total", "Timers that fired."},
    {&LoopStats::tasks_run, counter, "sockit_loop_tasks_run_total", "Tasks posted from other threads and run."},
    {&LoopStats::registered, gauge, "sockit_loop_registered_handles", "Descriptors registered with the loop now."},
    {&LoopStats::zc_sends, counter, "sockit_loop_zero_copy_sends_total", "io_uring zero-copy sends made."},
    {&LoopStats::zc_copied, counter, "sockit_loop_zero_copy_copied_total",
     "io_uring zero-copy sends whose bytes the kernel copied anyway."},
    {&LoopStats::zc_refused, counter, "sockit_loop_zero_copy_refused_total",
     "Sends whose socket refused zero copy and that were sent plainly."},
    {&LoopStats::events, counter, "sockit_loop_events_total",
     "Completions (io_uring) or ready events (select, poll, epoll) handled."},
    {&LoopStats::receives_armed, counter, "sockit_loop_receives_armed_total",
     "io_uring multishot receives armed: the first and every re-arm."},
    {&LoopStats::buffer_ring_empty, counter, "sockit_loop_buffer_ring_empty_total",
     "io_uring receives ended because the provided-buffer ring was empty."},
    {&LoopStats::cq_overflow, counter, "sockit_loop_cq_overflow_waits_total",
     "io_uring waits that found completions in the kernel's overflow list."},
    {&LoopStats::hangup_rechecks, counter, "sockit_loop_hangup_rechecks_total",
     "io_uring hang-ups seen by the hang-up watch that re-issued a receive."},
}};

constexpr bool in_field_order() {
  for (std::size_t i = 0; i < kLoopMetrics.size(); ++i) {
    if (kLoopMetrics[i].field != kLoopStatsFields[i]) return false;
  }
  return true;
}
static_assert(in_field_order(), "kLoopMetrics must name every LoopStats field, in kLoopStatsFields' order");

}  // namespace

void append_metrics(MetricsSnapshot& out, const LoopStats& stats, const MetricLabels& labels) {
  for (const LoopMetric& m : kLoopMetrics) {
    out.append({std::string(m.name), std::string(m.help), m.kind, labels, static_cast<double>(stats.*m.field)});
  }
  const double per_wait =
      stats.syscalls_wait == 0 ? 0.0 : static_cast<double>(stats.events) / static_cast<double>(stats.syscalls_wait);
  out.add_gauge("sockit_loop_events_per_wait",
                "Events handled per wait over the loop's life (rate(events) / rate(waits) for a window).", per_wait,
                labels);
}

void append_metrics(MetricsSnapshot& out, const BackendInfo& backend, const MetricLabels& labels) {
  out.add_gauge("sockit_loop_backend_info", "The event loop backend in use (always 1; the backend is the label).", 1,
                with_labels(labels, {{"backend", backend.name}}));
  // "feature: reason", as BackendInfo words it.
  for (const std::string& fallback : backend.fallbacks) {
    const auto colon = fallback.find(": ");
    std::string feature = fallback.substr(0, colon);
    std::string reason = colon == std::string::npos ? std::string() : fallback.substr(colon + 2);
    out.add_gauge("sockit_loop_backend_fallback",
                  "A backend feature not in use, with the kernel's reason (always 1).", 1,
                  with_labels(labels, {{"feature", std::move(feature)}, {"reason", std::move(reason)}}));
  }
}

void append_metrics(MetricsSnapshot& out, const EventLoop& loop, const MetricLabels& labels) {
  append_metrics(out, loop.stats(), labels);
  append_metrics(out, loop.backend(), labels);
}

}  // namespace sockit::event
