// The counters every `sockit echo` engine reports in its one-line summary.
// Stream and unix-seqpacket addresses run on net::Server (echo_stream.hpp;
// seqpacket in the Connection's record mode), datagram ones on
// net::DatagramEndpoint (echo_datagram.hpp).
#pragma once

#include <cstdint>

#include "sockit/sockit.hpp"

namespace sockit::cli {

struct EchoStats {
  std::uint64_t connections = 0;  // accepted and served
  std::uint64_t refused = 0;      // accepted and closed at once: over any limit, or shed
  std::uint64_t datagrams = 0;    // datagram servers: received whole
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
};

}  // namespace sockit::cli
