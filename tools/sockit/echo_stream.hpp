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
#include <memory>

#include "sockit/net/server.hpp"

namespace sockit::cli {

// A client that does not read its echo is not read from while this much of it
// waits (the old engine's bound, kept: --help promises it).
inline constexpr std::size_t kEchoHighWaterBytes = 1u << 20;

// Creates and starts the server; the echo handler is installed here.
[[nodiscard]] Result<std::unique_ptr<net::Server>> start_echo_server(const Address& address,
                                                                     net::ServerOptions options);

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
