// The engine behind `sockit echo`: sends every byte (or record, or datagram)
// back where it came from, until SIGINT/SIGTERM arrives on a signalfd.
//
// Single-threaded poll(2) over the listener, the connections and the signalfd,
// with non-blocking sockets and a bounded output queue per connection: a client
// that sends without reading is not read from while more than kHighWaterBytes of
// its echo wait, so it cannot make the server's memory grow (TCP flow control
// then slows that client down, and no one else). The poll set is rebuilt on every
// iteration, O(connections) per wakeup: simple and fine at the --max-conns
// default; the event loop layer will replace this engine.
//
// Record boundaries are kept: seqpacket records and datagrams are echoed one for one.
#pragma once

#include <cstdint>

#include "sockit/sockit.hpp"

namespace sockit::cli {

struct EchoStats {
  std::uint64_t connections = 0;  // accepted and served
  std::uint64_t refused = 0;      // accepted and closed at once: over --max-conns
  std::uint64_t datagrams = 0;    // datagram servers: echoed
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
};

struct EchoOptions {
  std::size_t max_connections = 1024;
};

// Both run until a signal arrives on `signal_fd` (borrowed) and return its number.
// They fail only if poll(2) itself does; a connection's error closes that connection.
[[nodiscard]] Result<int> serve_echo_connections(Listener& listener, int signal_fd,
                                                 const EchoOptions& options, EchoStats& stats);
[[nodiscard]] Result<int> serve_echo_datagrams(DatagramSocket& socket, int signal_fd, EchoStats& stats);

}  // namespace sockit::cli
