// Session: the relay state of one connected Channel — what waits to be sent to
// the peer, which directions are finished, and the timers — without the loop.
//
// The loop that owns the Session (pump() for one conversation, serve_keep() for
// `listen --keep`'s many) reads stdin, hands each chunk to push(), polls fd() for
// poll_events() and calls on_socket() with what poll reported, and advance()
// before every wait. Bytes from the peer go to stdout (blocking writes: a slow
// stdout slows the peers down instead of growing a buffer). Splitting the loop
// from the state is what lets one stdin feed several connections.
//
//  - input EOF (StdinState.open false): once everything queued is sent, our
//    direction is closed (shutdown(SHUT_WR) on streams and seqpacket, so the peer
//    sees end of stream while its answer can still come back);
//  - stream/seqpacket: finished when the peer has closed its direction too, or is
//    gone altogether (reset, or a Unix peer that closed both ways);
//  - datagram: there is no end of stream, so after input EOF replies are printed
//    until `datagram_wait` passes with nothing received;
//  - `idle_timeout`: no byte sent or received for that long ends the session;
//  - `quit_after`: that long after our direction closed, the session ends even if
//    the peer has not (nc -q).
// Each stdin read (up to 64 KiB) is sent as it came: for seqpacket and datagram
// channels one read is one record.
//
// Ownership: the Session owns its Channel and borrows the StdinState (shared by
// every session of one loop). One thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "channel.hpp"
#include "hex_dump.hpp"

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

struct SessionOptions {
  std::chrono::milliseconds datagram_wait{1000};
  DatagramCounts* counts = nullptr;  // borrowed; filled in for datagram channels
  std::optional<std::chrono::milliseconds> idle_timeout;  // --idle-timeout
  std::optional<std::chrono::milliseconds> quit_after;    // --quit-after
  bool hex = false;                                       // --hex
};

enum class PumpEnd {
  finished,       // both directions done
  stopped,        // SIGINT/SIGTERM
  stdout_closed,  // whoever read our stdout went away (EPIPE): nothing left to do
  idle_timeout,   // --idle-timeout passed with no byte either way
  quit_after,     // --quit-after passed after our direction closed
};

struct PumpError {
  std::string_view detail;  // "send", "receive", "read stdin", ...
  std::error_code ec;
};

// What a step of a session comes to: nothing yet (nullopt), an end, or an error.
using PumpResult = std::expected<PumpEnd, PumpError>;
using Step = std::optional<PumpResult>;

class Session {
 public:
  // `label` ("#3") goes in front of --hex lines and -v notes when several
  // sessions share stderr (empty when there is one).
  Session(Channel channel, StdinState& input, const SessionOptions& options, std::string label = {});

  [[nodiscard]] int fd() const noexcept { return channel_.fd(); }
  [[nodiscard]] const Channel& channel() const noexcept { return channel_; }
  // Whether this session still sends what stdin brings (and has room for it).
  [[nodiscard]] bool takes_input() const noexcept { return input_.open && !send_done_; }
  [[nodiscard]] bool above_high_water() const noexcept { return to_peer_.above_high_water(); }

  // Before every wait: closes our direction when due, and says if the session ended.
  [[nodiscard]] Step advance();
  [[nodiscard]] short poll_events() const noexcept;
  // The next timer (never if none): the loop's poll timeout.
  [[nodiscard]] Deadline deadline() const noexcept;
  // One chunk of input for the peer; tried at once (usually it all goes in one send).
  [[nodiscard]] Step push(std::span<const std::byte> chunk);
  [[nodiscard]] Step on_socket(short revents);

 private:
  [[nodiscard]] Status close_our_direction_when_done();
  [[nodiscard]] bool finished() const;
  [[nodiscard]] Step receive();
  void peer_gone();
  void touch() { if (options_.idle_timeout) idle_ = Deadline::after(*options_.idle_timeout); }
  [[nodiscard]] std::string prefix() const { return label_.empty() ? label_ : label_ + ": "; }

  Channel channel_;
  StdinState& input_;
  const SessionOptions& options_;
  std::string label_;
  HexDump hex_;
  std::vector<std::byte> from_peer_;
  OutQueue to_peer_;
  bool send_done_ = false;  // our direction is closed (or the peer can no longer take it)
  bool recv_done_ = false;  // the peer's end of stream has arrived
  std::optional<Deadline> datagram_wait_;  // datagram: when to stop waiting for replies
  std::optional<Deadline> idle_;           // --idle-timeout, moved on by every byte
  std::optional<Deadline> quit_;           // --quit-after, set when our direction closes
};

// The earlier of two deadlines (a "never" loses to anything).
[[nodiscard]] Deadline earliest(Deadline a, Deadline b) noexcept;

// Reads one chunk of stdin into `buffer` after poll reported `revents` on it.
// Returns the bytes read (0 if none); the end of stdin (or no stdin at all:
// POLLNVAL) sets `state.open` to false.
[[nodiscard]] Result<std::size_t> read_input(StdinState& state, short revents, std::span<std::byte> buffer);

// Errors that mean the peer has gone (not a fault of ours to report when it had
// already said goodbye).
[[nodiscard]] bool is_peer_gone(const std::error_code& ec) noexcept;

}  // namespace sockit::cli
