// The poll(2) engines behind `sockit echo` for record transports: unix-seqpacket
// (serve_echo_connections) and datagrams (serve_echo_datagrams). Stream addresses
// run on net::Server instead (echo_stream.hpp).
//
// Why seqpacket is not on net::Server: Connection treats its socket as a byte
// stream, which breaks records three ways (all checked against the library):
//  - receives go into a 64 KiB buffer without MSG_TRUNC, so a larger record comes
//    back silently cut to 64 KiB (seqpacket records can be ~208 KiB);
//  - queued output is coalesced into one sendmsg, so under io_uring a burst of
//    records is echoed as a few merged ones;
//  - a 0-byte record reads as end of stream and closes the connection.
// Until the net layer has a record-keeping connection, this engine stays.
//
// Single-threaded poll(2) over the listener, the connections and the signalfd,
// with non-blocking sockets and a bounded output queue per connection: a client
// that sends without reading is not read from while more than 1 MiB of its echo
// waits, so it cannot make the server's memory grow. The poll set is rebuilt on
// every iteration, O(connections) per wakeup: simple and fine at the --max-conns
// default.
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
// serve_echo_connections is written for any listener but used for seqpacket only.
[[nodiscard]] Result<int> serve_echo_connections(Listener& listener, int signal_fd,
                                                 const EchoOptions& options, EchoStats& stats);
[[nodiscard]] Result<int> serve_echo_datagrams(DatagramSocket& socket, int signal_fd, EchoStats& stats);

}  // namespace sockit::cli
