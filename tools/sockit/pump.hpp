// pump(): relays stdin to a connected Channel and the Channel to stdout, the way
// nc does, until both directions are finished.
//
//  - stdin EOF: once everything read is sent, our direction is closed
//    (shutdown(SHUT_WR) on streams and seqpacket, so the peer sees end of stream
//    while its answer can still come back);
//  - stream/seqpacket: done when the peer has closed its direction too, or is gone
//    altogether (reset, or a Unix peer that closed both ways);
//  - datagram: there is no end of stream, so after stdin EOF replies are printed
//    until `datagram_wait` passes with nothing received;
//  - a signal on `signal_fd` (if given) stops the relay at once.
// Each stdin read (up to 64 KiB) is sent as it came: for seqpacket and datagram
// channels one read is one record. Reading stdin pauses while more than
// kHighWaterBytes wait for a slow peer, and stdout is written blocking, so memory
// stays bounded whichever side is slow.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <string_view>
#include <system_error>

#include "channel.hpp"

namespace sockit::cli {

// Survives from one connection to the next (`listen --keep`): after stdin's EOF,
// later connections get no input and are half-closed at once.
struct StdinState {
  bool open = true;
};

// Datagram channels: what went each way (a reply that never came is otherwise
// invisible: datagrams have no end of stream).
struct DatagramCounts {
  std::uint64_t sent = 0;      // datagrams handed to the socket (one per stdin read)
  std::uint64_t received = 0;  // datagrams received (replies)
};

struct PumpOptions {
  std::chrono::milliseconds datagram_wait{1000};
  int signal_fd = -1;                 // borrowed; -1 for none
  DatagramCounts* counts = nullptr;  // borrowed; filled in for datagram channels
};

enum class PumpEnd {
  finished,       // both directions done
  stopped,        // SIGINT/SIGTERM
  stdout_closed,  // whoever read our stdout went away (EPIPE): nothing left to do
};

struct PumpError {
  std::string_view detail;  // "send", "receive", "read stdin", ...
  std::error_code ec;
};

[[nodiscard]] std::expected<PumpEnd, PumpError> pump(Channel& channel, StdinState& stdin_state,
                                                     const PumpOptions& options);

// Errors that mean the peer has gone (not a fault of ours to report when it had
// already said goodbye).
[[nodiscard]] bool is_peer_gone(const std::error_code& ec) noexcept;

}  // namespace sockit::cli
