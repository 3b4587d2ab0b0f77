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

}  // namespace

Result<std::unique_ptr<net::Server>> start_echo_server(const Address& address, net::ServerOptions options) {
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
             "{} {} waits, {:.1f} events per wait, {} receives armed, {} buffer-ring empty, {} CQ overflow\n",
             prefix, l.syscalls_wait, per_wait, l.receives_armed, l.buffer_ring_empty, l.cq_overflow);
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
