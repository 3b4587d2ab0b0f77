// DatagramEchoProcess: a net::DatagramEndpoint echo server (every datagram back to
// its sender, whole) alone in a child process, for the datagram cases of the
// hostile-client battery (tests/hostile/). The common part — fork, start, report,
// counters, stop — is ServiceProcess's (support/service_process.hpp).
//
// The echo is the one `sockit echo udp://...` runs (tools/sockit/echo_datagram.cpp),
// on the same endpoint settings (net::server_endpoint_options: receive memory 2 MiB
// at most, a reply queue that takes two of the largest datagram, and a reply the
// kernel will not take now dropped and counted, never waited for). A datagram from
// an unbound Unix socket has no address to answer and is counted.
// Its loop runs on a thread of its own in the child; the counters are read there.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "sockit/net/datagram_endpoint.hpp"
#include "support/service_process.hpp"

namespace sockit::test {

struct DatagramEchoStats {
  net::DatagramEndpointStats endpoint;
  std::uint64_t truncated_bytes = 0;  // the real sizes on_truncated was told, summed
  std::uint64_t errors = 0;        // on_error reports: replies the kernel refused, ICMP errors received
  std::uint64_t unanswerable = 0;  // from an unbound Unix socket: no address to reply to
  std::uint64_t loop_waits = 0;    // the loop's waits (LoopStats::syscalls_wait): a spin shows here
  bool open = true;                // false: the endpoint closed itself (a receive error it cannot survive)
};

class DatagramEchoProcess : public ServiceProcessOf<DatagramEchoStats> {
 public:
  // `address`: udp:// or unix-dgram: (port 0 / a fresh path or name).
  DatagramEchoProcess(const Address& address, std::string backend, std::size_t max_datagram_size = 64 * 1024);
};

}  // namespace sockit::test
