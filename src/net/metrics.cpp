#include "sockit/net/metrics.hpp"

#include <string>
#include <string_view>

#include "sockit/event/loop_metrics.hpp"

namespace sockit::net {
namespace {

double seconds(std::chrono::microseconds us) { return static_cast<double>(us.count()) / 1e6; }
double as_double(std::uint64_t n) { return static_cast<double>(n); }

// The four traffic counters a server and a connection share, under
// sockit_<component>_*: the same meaning at both levels (ConnectionStats').
void append_traffic(MetricsSnapshot& out, std::string_view component, std::uint64_t bytes_in,
                    std::uint64_t bytes_out, std::uint64_t messages_in, std::uint64_t messages_out,
                    const MetricLabels& labels) {
  const auto name = [&](std::string_view what) { return "sockit_" + std::string(component) + "_" + std::string(what); };
  out.add_counter(name("received_bytes_total"), "Bytes read from the socket.", as_double(bytes_in), labels);
  out.add_counter(name("sent_bytes_total"), "Bytes the kernel took.", as_double(bytes_out), labels);
  out.add_counter(name("received_messages_total"), "Messages (frames, records, raw chunks) delivered to the handler.",
                  as_double(messages_in), labels);
  out.add_counter(name("queued_messages_total"), "Messages queued for sending (counted when queued, not when written).",
                  as_double(messages_out), labels);
}

}  // namespace

void append_metrics(MetricsSnapshot& out, const ServerStats& s, const MetricLabels& labels) {
  out.add_counter("sockit_server_connections_accepted_total",
                  "Connections admitted (refused and shed ones are not included).", as_double(s.accepted), labels);
  const std::pair<const char*, std::uint64_t> refused[] = {{"max_connections", s.refused_max_connections},
                                                           {"per_peer", s.refused_per_peer},
                                                           {"rate", s.refused_rate},
                                                           {"policy", s.refused_policy}};
  for (const auto& [reason, n] : refused) {
    out.add_counter("sockit_server_connections_refused_total",
                    "Connections accepted and closed at once, over a limit (reason: the limit).", as_double(n),
                    with_labels(labels, {{"reason", reason}}));
  }
  out.add_counter("sockit_server_connections_shed_total",
                  "Connections closed at once because the process was out of descriptors (EMFILE/ENFILE).",
                  as_double(s.shed_no_descriptors), labels);
  out.add_gauge("sockit_server_connections_live", "Admitted connections open now.", as_double(s.active), labels);
  const std::pair<const char*, std::uint64_t> closed[] = {{"peer", s.closed_by_peer},
                                                          {"idle_timeout", s.closed_by_timeout},
                                                          {"protocol_error", s.closed_by_protocol_error},
                                                          {"error", s.closed_by_error},
                                                          {"shutdown", s.closed_by_server}};
  for (const auto& [reason, n] : closed) {
    out.add_counter("sockit_server_connections_closed_total",
                    "Admitted connections that ended (reason: peer, idle_timeout, protocol_error, error, shutdown).",
                    as_double(n), with_labels(labels, {{"reason", reason}}));
  }
  append_traffic(out, "server", s.bytes_in, s.bytes_out, s.messages_in, s.messages_out, labels);
  event::append_metrics(out, s.loops, labels);
}

void append_metrics(MetricsSnapshot& out, const ConnectionStats& s, const MetricLabels& labels,
                    std::chrono::steady_clock::time_point now) {
  append_traffic(out, "connection", s.bytes_in, s.bytes_out, s.messages_in, s.messages_out, labels);
  const auto age = std::chrono::duration<double>(now - s.connected_at).count();
  out.add_gauge("sockit_connection_age_seconds", "Time since the connection was created.", age > 0 ? age : 0.0,
                labels);
}

void append_metrics(MetricsSnapshot& out, const DatagramEndpointStats& s, const MetricLabels& labels) {
  out.add_counter("sockit_datagram_received_total", "Datagrams received whole and delivered.",
                  as_double(s.datagrams_in), labels);
  out.add_counter("sockit_datagram_received_bytes_total", "Bytes of the datagrams received whole.",
                  as_double(s.bytes_in), labels);
  out.add_counter("sockit_datagram_sent_total", "Datagrams sent.", as_double(s.datagrams_out), labels);
  out.add_counter("sockit_datagram_sent_bytes_total", "Bytes of the datagrams sent.", as_double(s.bytes_out),
                  labels);
  out.add_counter("sockit_datagram_truncated_total",
                  "Datagrams larger than the receive buffer: reported, not delivered.", as_double(s.truncated),
                  labels);
  out.add_counter("sockit_datagram_dropped_total",
                  "Datagrams not sent: refused by the queue bound or the kernel, or unsent at close.",
                  as_double(s.dropped), labels);
  out.add_counter("sockit_datagram_receive_calls_total", "recvmmsg calls, including those that found nothing.",
                  as_double(s.receive_calls), labels);
  out.add_counter("sockit_datagram_send_calls_total", "sendmmsg calls.", as_double(s.send_calls), labels);
}

void append_metrics(MetricsSnapshot& out, const ConnectorStats& s, const MetricLabels& labels) {
  out.add_counter("sockit_connector_attempts_total", "Connection attempts made.", as_double(s.attempts), labels);
  out.add_counter("sockit_connector_backoff_seconds_total", "Time spent waiting between attempts.",
                  std::chrono::duration<double>(s.total_backoff).count(), labels);
}

void append_metrics(MetricsSnapshot& out, const TcpInfoSummary& s, const MetricLabels& labels) {
  out.add_gauge("sockit_server_tcp_connections", "Live TCP connections whose TCP_INFO this summary covers.",
                as_double(s.connections), labels);
  out.add_gauge("sockit_server_tcp_retransmitted_segments",
                "Retransmissions over the lives of the live connections, summed (drops as connections close).",
                as_double(s.total_retransmits), labels);
  out.add_gauge("sockit_server_tcp_unacked_segments", "Segments in flight over the live connections, summed.",
                as_double(s.unacked), labels);
  // With no connection there is no RTT: absent, rather than a 0 a dashboard
  // would average in.
  if (s.connections == 0) return;
  out.add_gauge("sockit_server_tcp_rtt_min_seconds", "Smallest smoothed RTT among the live connections.",
                seconds(s.rtt_min), labels);
  out.add_gauge("sockit_server_tcp_rtt_mean_seconds", "Mean smoothed RTT of the live connections.",
                seconds(s.rtt_mean()), labels);
  out.add_gauge("sockit_server_tcp_rtt_max_seconds", "Largest smoothed RTT among the live connections.",
                seconds(s.rtt_max), labels);
  out.add_gauge("sockit_server_tcp_rttvar_mean_seconds", "Mean RTT variance of the live connections.",
                seconds(s.rttvar_mean()), labels);
}

void Server::append_metrics(MetricsSnapshot& out, const MetricLabels& labels, std::chrono::milliseconds within) const {
  net::append_metrics(out, stats(), labels);
  out.add_gauge("sockit_server_connections_max",
                "The connection cap in force (lowered on select to the descriptors it can watch).",
                as_double(max_connections()), labels);
  out.add_gauge("sockit_server_worker_threads", "Worker threads, each with its own event loop.", threads(), labels);
  event::BackendInfo backend;
  backend.name = backend_name_;
  backend.fallbacks = backend_fallbacks_;
  event::append_metrics(out, backend, labels);
  if (local_address_.transport() == Transport::tcp) net::append_metrics(out, tcp_summary(within), labels);
}

}  // namespace sockit::net
