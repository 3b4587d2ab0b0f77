// An event loop's counters and backend as metrics samples (metrics.hpp): the
// `sockit_loop_*` names of docs/METRICS.md.
//
// Threads: EventLoop::stats() and backend() may be read from any thread, so
// append_metrics(out, loop) may be called from any thread while the loop runs.
#pragma once

#include "sockit/event/event_loop.hpp"
#include "sockit/metrics.hpp"

namespace sockit::event {

// Every LoopStats field (a counter each, registered handles a gauge), and the
// events per wait over the loop's life (a gauge; rate(events) / rate(waits) gives
// it over any window).
void append_metrics(MetricsSnapshot& out, const LoopStats& stats, const MetricLabels& labels = {});
// sockit_loop_backend_info{backend="epoll"} 1, and one
// sockit_loop_backend_fallback{feature=...,reason=...} 1 per feature the backend
// could not use (a handful at most: one kernel, one set of reasons).
void append_metrics(MetricsSnapshot& out, const BackendInfo& backend, const MetricLabels& labels = {});
// Both of the above for one loop.
void append_metrics(MetricsSnapshot& out, const EventLoop& loop, const MetricLabels& labels = {});

}  // namespace sockit::event
