// The net layer's counters as metrics samples (metrics.hpp): the
// `sockit_server_*`, `sockit_connection_*`, `sockit_datagram_*` and
// `sockit_connector_*` names of docs/METRICS.md. A running net::Server appends
// all of its own, live connections included, with Server::append_metrics.
//
// Threads: these read only the struct they are given. ServerStats comes from
// Server::stats() (any thread); ConnectionStats, DatagramEndpointStats and
// ConnectorStats belong to their object's loop thread: copy them there (or in a
// task posted there) before handing them to another thread.
#pragma once

#include <chrono>

#include "sockit/metrics.hpp"
#include "sockit/net/connection.hpp"
#include "sockit/net/connector.hpp"
#include "sockit/net/datagram_endpoint.hpp"
#include "sockit/net/server.hpp"
#include "sockit/tcp_options.hpp"

namespace sockit::net {

// Accepted, refused (by reason), shed, live and closed (by reason) connections,
// traffic, and the worker loops' counters (sockit_loop_*, summed over workers).
void append_metrics(MetricsSnapshot& out, const ServerStats& stats, const MetricLabels& labels = {});
// One connection's traffic and age (`now` - connected_at).
void append_metrics(MetricsSnapshot& out, const ConnectionStats& stats, const MetricLabels& labels = {},
                    std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now());
void append_metrics(MetricsSnapshot& out, const DatagramEndpointStats& stats, const MetricLabels& labels = {});
void append_metrics(MetricsSnapshot& out, const ConnectorStats& stats, const MetricLabels& labels = {});
// TCP_INFO over a server's live TCP connections (sockit_server_tcp_*).
void append_metrics(MetricsSnapshot& out, const TcpInfoSummary& summary, const MetricLabels& labels = {});

}  // namespace sockit::net
