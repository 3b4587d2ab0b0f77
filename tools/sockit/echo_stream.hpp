// The connection half of `sockit echo` (TCP, Unix stream, abstract, and
// unix-seqpacket): the library's net::Server with a handler that sends every
// message back.
//
// With raw framing a "message" is whatever one receive returned, so the bytes come
// back exactly as sent (not necessarily in the same pieces, which a stream does not
// promise anyway); with length or line framing each frame is decoded, checked
// against max_frame and framed again on the way out. On unix-seqpacket the
// Connection runs in record mode: each record is a message and goes back as one
// record, whole (max_frame bounds it).
//
// Threads: the Server runs its own worker threads; these functions are called from
// the main thread, which only waits for SIGINT/SIGTERM on the signalfd (and prints
// the periodic stats line). Block the stop signals (open_stop_signals) before
// start_echo_server, so the workers inherit the mask and never take them.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <memory>

#include "sockit/net/server.hpp"

namespace sockit::cli {

// A client that does not read its echo is not read from while this much of it
// waits (the old engine's bound, kept: --help promises it).
inline constexpr std::size_t kEchoHighWaterBytes = 1u << 20;

// The limits the -v connection lines name ("refused, over --max-conns 10").
struct EchoLimits {
  std::size_t max_connections = 0;
  std::size_t max_connections_per_peer = 0;
  double idle_timeout_s = 0;
  std::size_t max_frame = 0;
};

// The per-connection lines of `sockit echo -v` (ServerOptions::on_event): accepted
// from PEER (Unix: the peer's pid/uid/gid), refused over a limit, shed, and closed
// (by the peer, idle reset, frame too large, error, shutdown) with byte counts.
// Called from worker threads: each line is one write.
[[nodiscard]] std::function<void(const net::ServerEvent&)> connection_logger(std::shared_ptr<const EchoLimits> limits);
// "tcp://127.0.0.1:41234", "pid 123 uid 1000 gid 1000" (an unnamed Unix client),
// "unix:/tmp/c.sock (pid 123 uid 1000 gid 1000)": who a ServerEvent is about.
[[nodiscard]] std::string describe_peer(const net::ServerEvent& event);

// Creates and starts the server; the echo handler is installed here. With
// `log_limits` (for -v) the connection lines are logged, and its max_connections
// is set to the cap in force (Server::max_connections) before any worker runs.
[[nodiscard]] Result<std::unique_ptr<net::Server>> start_echo_server(
    const Address& address, net::ServerOptions options, std::shared_ptr<EchoLimits> log_limits = nullptr);

// Waits for a stop signal on `signal_fd` (borrowed) and returns its number. With a
// non-zero `stats_interval`, prints one stats line on stderr every interval.
// Fails only if poll(2) does.
[[nodiscard]] Result<int> wait_for_stop(const net::Server& server, int signal_fd,
                                        std::chrono::milliseconds stats_interval);

// "sockit: stats: ..." (one line, flushed), for --stats-interval.
void print_stats_line(const net::ServerStats& stats);
// One line of the worker loops' counters (waits, events per wait, io_uring receive
// re-arms, empty buffer ring, CQ overflow) after `prefix`.
void print_engine_line(std::string_view prefix, const event::LoopStats& loops);
// The lines after the one-line summary: backend, refusals, closes, messages.
void print_final_details(const net::ServerStats& stats, const std::string& backend, unsigned threads);

}  // namespace sockit::cli
