// The transports `sockit bench` measures, and how to connect the two ends of one
// before the measuring process forks.
//
// Every end is made and connected in the parent, then the child keeps one side:
// listen/connect/accept (or bind/connect) cannot then race the fork, and a set-up
// failure is reported once, by the parent, before any process exists. The kernel
// objects are the real ones (a listening Unix path, a TCP loopback connection, a
// FIFO opened by its path), so what is measured is the same as between two
// unrelated programs.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "sockit/address.hpp"
#include "sockit/fd.hpp"
#include "sockit/result.hpp"

namespace sockit::cli {

// How an end talks: a byte stream (pipes, stream sockets), one message per
// send (datagram, seqpacket), or the shared-memory ring.
enum class BenchKind { pipe, stream, datagram, seqpacket, shm };

struct BenchTransport {
  std::string_view name{};                // as --transports spells it
  std::string_view description{};         // for --help and the tables
  BenchKind kind = BenchKind::stream;
  std::optional<Transport> socket{};      // sockit's transport, for sockets
  bool no_delay = false;                  // TCP_NODELAY on both ends
  std::size_t max_message = 0;            // the largest message it carries; 0: no limit here
  std::string_view too_large{};           // why a larger one is skipped
};

[[nodiscard]] std::span<const BenchTransport> bench_transports();
[[nodiscard]] const BenchTransport* find_bench_transport(std::string_view name);

// The two connected ends: for sockets one descriptor per side (in == out), for
// pipes and FIFOs one per direction, for shm the control socket pair ShmRing is
// set up over.
struct BenchLink {
  Fd parent_in, parent_out;
  Fd child_in, child_out;
};

// Connects both ends of `transport`. Paths (Unix sockets, FIFOs) are made in
// `temp_dir` and removed again before this returns (the connected descriptors do
// not need them); `serial` keeps names distinct within one run.
[[nodiscard]] Result<BenchLink> make_bench_link(const BenchTransport& transport, const std::string& temp_dir,
                                                unsigned serial);

}  // namespace sockit::cli
