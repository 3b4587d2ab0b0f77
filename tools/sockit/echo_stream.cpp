// The connection half of `sockit echo` (streams and seqpacket): net::Server plus
// an echoing handler, and the main thread's wait for the stop signal.
#include "echo_stream.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cstdio>

#include "errors.hpp"
#include "log.hpp"
#include "signals.hpp"

namespace sockit::cli {
namespace {

void echo_back(net::Connection& connection, std::span<const std::byte> message) {
  // send() refuses only beyond max_output_bytes, which reading pauses long before
  // (at kEchoHighWaterBytes), or after the connection started closing: either way
  // this client is beyond help and nobody else is affected.
  if (auto sent = connection.send(message); !sent) {
    note("echo: {}: connection reset", describe(sent.error()));
    connection.abort();
  }
}

std::string plural(std::uint64_t n, std::string_view noun) {
  return fmt::format("{} {}{}", n, noun, n == 1 ? "" : "s");
}

// "2 s", "0.5 s": seconds as the user wrote them, without trailing zeros.
std::string seconds_text(double seconds) { return fmt::format("{:g} s", seconds); }

std::string traffic(const net::ServerEvent& e) {
  return fmt::format("{} bytes in, {} bytes out", e.bytes_in, e.bytes_out);
}

std::string close_text(const net::ServerEvent& e, const EchoLimits& limits) {
  using Close = net::ServerEvent::Close;
  switch (e.close) {
    case Close::by_peer:
      return fmt::format("closed by peer, {}", traffic(e));
    case Close::idle_timeout:
      return fmt::format("reset after {} without progress (--idle-timeout), {}",
                         seconds_text(limits.idle_timeout_s), traffic(e));
    case Close::protocol_error:
      return limits.max_frame > 0
                 ? fmt::format("closed: frame too large (over --max-frame {}), {}", limits.max_frame, traffic(e))
                 : fmt::format("closed: frame too large, {}", traffic(e));
    case Close::error:
      return fmt::format("closed on error: {}, {}", describe(e.error), traffic(e));
    case Close::shutdown:
      return fmt::format("closed at shutdown, {}", traffic(e));
  }
  return "closed";
}

}  // namespace

std::string describe_peer(const net::ServerEvent& event) {
  std::string cred;
  if (event.credentials) {
    cred = fmt::format("pid {} uid {} gid {}", event.credentials->pid, event.credentials->uid,
                       event.credentials->gid);
  }
  if (event.peer.is_unnamed()) return cred.empty() ? std::string("an unknown peer") : cred;
  if (cred.empty()) return event.peer.to_string();
  return fmt::format("{} ({})", event.peer.to_string(), cred);
}

std::function<void(const net::ServerEvent&)> connection_logger(std::shared_ptr<const EchoLimits> shared) {
  return [shared = std::move(shared)](const net::ServerEvent& e) {
    const EchoLimits& limits = *shared;
    using Kind = net::ServerEvent::Kind;
    const std::string peer = describe_peer(e);
    switch (e.kind) {
      case Kind::accepted:
        note("connection {} from {}: accepted", e.id, peer);
        return;
      case Kind::refused_max_connections:
        note("connection from {}: refused, over --max-conns {}", peer, limits.max_connections);
        return;
      case Kind::refused_per_peer:
        note("connection from {}: refused, over --max-conns-per-peer {}", peer, limits.max_connections_per_peer);
        return;
      case Kind::refused_rate:
        note("connection from {}: refused, over the accept rate", peer);
        return;
      case Kind::refused_policy:
        note("connection from {}: refused by the peer policy", peer);
        return;
      case Kind::shed:
        note("connection from {}: closed at once, out of file descriptors", peer);
        return;
      case Kind::closed:
        note("connection {} from {}: {}", e.id, peer, close_text(e, limits));
        return;
    }
  };
}

Result<std::unique_ptr<net::Server>> start_echo_server(const Address& address, net::ServerOptions options,
                                                       std::shared_ptr<EchoLimits> log_limits) {
  if (log_limits) options.on_event = connection_logger(log_limits);
  options.connection.high_water_mark = kEchoHighWaterBytes;
  options.connection.low_water_mark = kEchoHighWaterBytes / 4;
  // One whole frame may be queued on top of a full high-water mark: never refuse
  // an echo the framing itself accepted.
  options.connection.max_output_bytes = std::max(
      options.connection.max_output_bytes, options.connection.framing.max_frame + 2 * kEchoHighWaterBytes);
  // Rare events (descriptors exhausted) are counted in the final stats anyway; the
  // text is for -v. Called from worker threads: one fwrite per line keeps lines whole.
  options.log = [](std::string_view text) { note("{}", text); };

  auto server = net::Server::create(address, std::move(options),
                                    [](net::Connection& connection) { connection.on_message(echo_back); });
  if (!server) return fail(server.error());
  if (log_limits) log_limits->max_connections = (*server)->max_connections();  // before the workers run
  if (auto started = (*server)->start(); !started) return fail(started.error());
  return server;
}

Result<int> wait_for_stop(const net::Server& server, int signal_fd,
                          std::chrono::milliseconds stats_interval) {
  auto stopped = wait_for_stop_signal(signal_fd, stats_interval, [&] { print_stats_line(server.stats()); });
  if (!stopped) return fail(stopped.error());
  return stopped->signal;
}

void print_stats_line(const net::ServerStats& s) {
  const std::uint64_t refused =
      s.refused_max_connections + s.refused_per_peer + s.refused_rate + s.refused_policy;
  fmt::print(stderr,
             "sockit: stats: {} active, {} accepted, {} refused, {} shed, {} bytes in, {} bytes out, "
             "{} in, {} out, {} closed on protocol error\n",
             s.active, s.accepted, refused, s.shed_no_descriptors, s.bytes_in, s.bytes_out,
             plural(s.messages_in, "message"), plural(s.messages_out, "message"), s.closed_by_protocol_error);
  print_engine_line("sockit: engine:", s.loops);
  std::fflush(stderr);
}

// What the event loops did to carry the traffic: the figures to look at when the
// server is slower than expected (few events per wait means a wake-up per message;
// receive re-arms and an empty buffer ring are io_uring's extra work).
void print_engine_line(std::string_view prefix, const event::LoopStats& l) {
  const double per_wait =
      l.syscalls_wait == 0 ? 0.0 : static_cast<double>(l.events) / static_cast<double>(l.syscalls_wait);
  fmt::print(stderr,
             "{} {} waits, {:.1f} events per wait, {} receives armed, {} buffer-ring empty, {} CQ overflow, "
             "{} hang-up rechecks\n",
             prefix, l.syscalls_wait, per_wait, l.receives_armed, l.buffer_ring_empty, l.cq_overflow,
             l.hangup_rechecks);
}

void print_final_details(const net::ServerStats& s, const std::string& backend, unsigned threads) {
  fmt::print(stderr, "sockit:   backend {}, {}\n", backend, plural(threads, "thread"));
  fmt::print(
      stderr,
      "sockit:   refused: {} over --max-conns, {} over --max-conns-per-peer; {} shed (out of descriptors)\n",
      s.refused_max_connections, s.refused_per_peer, s.shed_no_descriptors);
  // A frame over --max-frame is the client's fault, any other error is not (or not
  // knowably): counted apart, so a misbehaving client does not read as a broken server.
  fmt::print(stderr,
             "sockit:   closed: {} by peer, {} idle (--idle-timeout), {} on protocol error (--max-frame), "
             "{} on other error, {} at shutdown\n",
             s.closed_by_peer, s.closed_by_timeout, s.closed_by_protocol_error, s.closed_by_error,
             s.closed_by_server);
  fmt::print(stderr, "sockit:   messages: {} in, {} out\n", s.messages_in, s.messages_out);
  std::fflush(stderr);
}

}  // namespace sockit::cli
