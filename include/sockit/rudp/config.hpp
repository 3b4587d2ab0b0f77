// Reliable UDP: the vocabulary shared by the sans-IO core and its users — time,
// delivery modes, the per-connection and per-endpoint configuration, and the
// statistics each keeps. docs/RUDP.md is the protocol these values parameterise.
//
// Time is injected: the core never reads a clock. Callers pass `Instant`s from
// std::chrono::steady_clock (or, in tests, any monotonic sequence of them).
//
// Thread safety: value types; any thread.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "sockit/result.hpp"

namespace sockit::rudp {

using Clock = std::chrono::steady_clock;
using Instant = Clock::time_point;
using Duration = std::chrono::microseconds;

// How one channel's messages are delivered (docs/RUDP.md, "Delivery modes").
enum class DeliveryMode : std::uint8_t {
  reliable_ordered = 0,      // exactly once, in send order within the channel
  reliable_unordered = 1,    // exactly once, as soon as complete
  unreliable_sequenced = 2,  // at most once; older than one delivered = dropped
  unreliable = 3,            // at most once, any order
};

inline bool is_reliable(DeliveryMode mode) {
  return mode == DeliveryMode::reliable_ordered || mode == DeliveryMode::reliable_unordered;
}

constexpr std::size_t kMaxChannels = 256;  // the channel is one byte on the wire
constexpr std::size_t kDefaultChannels = 16;

// One connection's parameters. Both sides have their own; what the peer must
// know (max_message, receive_window, max_ack_delay) travels in the handshake.
struct Config {
  std::size_t max_datagram_size = 1200;        // UDP payload bytes per packet (1200..65527)
  std::uint32_t max_message = 16u << 20;       // largest message we accept (and send, capped by the peer's)
  std::uint32_t receive_window = 16u << 20;    // reliable bytes the peer may have unconsumed (>= max_message)
  std::size_t max_unreliable_buffer = 1u << 20;  // unreliable bytes held for reassembly / unread
  std::size_t max_send_buffer = 64u << 20;     // queued unacknowledged bytes before send() refuses
  // The sending mode of each channel; the receiver learns it from the frames.
  std::vector<DeliveryMode> channels = std::vector<DeliveryMode>(kDefaultChannels, DeliveryMode::reliable_ordered);
  Duration max_ack_delay = std::chrono::milliseconds(5);
  Duration idle_timeout = std::chrono::seconds(10);       // nothing received this long: peer_dead
  Duration keepalive_interval = std::chrono::milliseconds(2500);  // PING when nothing sent this long
};

// The endpoint (one UDP socket, many connections) on top of Config.
struct EndpointConfig {
  Config connection;
  bool accept = false;                              // answer HELLOs (a server)
  std::size_t max_connections = 10'000;             // live connections, both directions
  std::size_t max_reassembly_bytes = 256u << 20;    // over all connections
  std::size_t max_pending_challenges = 1024;        // stateless replies waiting to be sent
  Duration cookie_period = std::chrono::seconds(10);  // a cookie lives one to two periods
  // 128 bits of entropy for connection ids and cookie secrets (getrandom in
  // production; fixed in tests for determinism).
  std::array<std::uint64_t, 2> seed{0x736f636b69742d72ULL, 0x7564702d73656564ULL};
};

// Checks bounds and consistency (returns errc::invalid_argument).
[[nodiscard]] Status validate(const Config& config);
[[nodiscard]] Status validate(const EndpointConfig& config);

struct ConnectionStats {
  Duration srtt{0};
  Duration min_rtt{0};
  Duration rttvar{0};
  Duration latest_rtt{0};
  std::uint64_t cwnd = 0;             // bytes
  std::uint64_t bytes_in_flight = 0;  // bytes of ack-eliciting packets not yet acked or lost
  std::uint64_t packets_sent = 0;
  std::uint64_t packets_received = 0;  // valid ones, duplicates excluded
  std::uint64_t packets_lost = 0;
  std::uint64_t packets_retransmitted = 0;  // packets that carried retransmitted data
  std::uint64_t spurious_retransmits = 0;   // declared lost, then acknowledged
  std::uint64_t bytes_sent = 0;             // datagram bytes
  std::uint64_t bytes_received = 0;
  std::uint64_t messages_sent = 0;
  std::uint64_t messages_delivered = 0;
  std::uint64_t late_fragments_dropped = 0;  // unreliable-sequenced: older than a delivered message
  std::uint64_t messages_dropped_unreliable = 0;  // evicted or refused for lack of buffer
  std::uint64_t malformed_packets = 0;
  std::uint64_t duplicate_packets = 0;
  std::uint64_t reassembly_bytes = 0;  // now held (partial, waiting, unread), incl. per-piece overhead
  std::uint32_t pto_count = 0;
};

struct EndpointStats {
  std::uint64_t datagrams_received = 0;
  std::uint64_t datagrams_sent = 0;
  std::uint64_t malformed_packets = 0;
  std::uint64_t unknown_connection = 0;     // valid header, no such connection id (or wrong address)
  std::uint64_t challenges_sent = 0;
  std::uint64_t challenges_dropped = 0;     // the stateless-reply ring was full
  std::uint64_t cookies_rejected = 0;       // a HELLO with a cookie that did not verify
  std::uint64_t connections_accepted = 0;
  std::uint64_t connections_refused = 0;    // max_connections reached
  std::uint64_t connections_live = 0;
  std::uint64_t reassembly_bytes = 0;
  std::uint64_t dropped_no_buffer = 0;      // packets dropped unacknowledged: endpoint reassembly bound
};

}  // namespace sockit::rudp
