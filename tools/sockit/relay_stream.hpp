// The connection half of `sockit relay` (tcp://, unix: path or abstract,
// unix-seqpacket:): net::Server accepts on FROM; for each client a Connector
// dials TO on the same worker loop, and two flows copy bytes (records, on
// seqpacket) each way.
//
// Each flow is independent: the end of stream of one side becomes a FIN
// (shutdown_write) on the other once everything before it went out, and the
// other direction goes on until its own end. When both have ended, both
// connections close; an error or reset on either resets the other.
//
// Backpressure: a flow pauses reading its source while its destination's output
// queue is above the high-water mark or its own delay queue holds more than
// kRelayQueueBytes, so a slow reader never makes the relay buffer without bound.
// The client is not read from at all until TO has answered. A connect that fails
// resets the client (counted as connect_failed, -v says why) and the relay goes on.
//
// Faults (faults.hpp): delay, jitter and rate hold chunks in the flow's queue
// (bytes keep their order); reset_after/stall_after act once a direction carried
// that many bytes (streams: exactly that many are forwarded; seqpacket: the
// records that fit whole).
//
// Threads: the Server's workers run the flows; start/stats/shutdown from the
// main thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>

#include "faults.hpp"
#include "sockit/net/server.hpp"

namespace sockit::cli {

inline constexpr std::size_t kRelayQueueBytes = 1u << 20;

struct StreamRelayOptions {
  Address to;  // numeric (resolved once at start: no lookup on the loops)
  net::ServerOptions server;
  FaultOptions faults;
  std::uint64_t reset_after = 0;  // bytes in one direction, then reset both; 0: never
  std::uint64_t stall_after = 0;  // bytes in one direction, then stop forwarding it; 0: never
  std::chrono::milliseconds connect_timeout{5000};
};

struct StreamRelayCounters {
  std::atomic<std::uint64_t> connect_failed{0};
  std::atomic<std::uint64_t> bytes_up{0};    // client -> TO, forwarded
  std::atomic<std::uint64_t> bytes_down{0};  // TO -> client, forwarded
  std::atomic<std::uint64_t> resets_injected{0};
  std::atomic<std::uint64_t> stalls_injected{0};
  std::atomic<std::uint64_t> next_client{0};
};

class StreamRelay {
 public:
  [[nodiscard]] static Result<std::unique_ptr<StreamRelay>> start(const Address& from,
                                                                 StreamRelayOptions options);
  [[nodiscard]] const Address& local_address() const { return server_->local_address(); }
  [[nodiscard]] const std::string& backend() const { return server_->backend(); }
  [[nodiscard]] net::ServerStats server_stats() const { return server_->stats(); }
  [[nodiscard]] const StreamRelayCounters& counters() const { return *counters_; }
  // The server's metrics (net::Server::append_metrics: the clients' side) and the
  // relay's own counters (sockit_relay_*, docs/METRICS.md). Any thread while the
  // relay runs.
  void append_metrics(MetricsSnapshot& out) const;
  // Stops accepting; open clients get `grace` to finish, then are reset.
  void shutdown(std::chrono::milliseconds grace) { server_->shutdown(grace); }

 private:
  StreamRelay() = default;
  std::shared_ptr<const StreamRelayOptions> options_;
  std::shared_ptr<StreamRelayCounters> counters_;
  std::unique_ptr<net::Server> server_;  // last: its workers use the two above
};

}  // namespace sockit::cli
