// What the three message-rate peers of `make bench-peers` share (scripts/bench-peers.sh,
// docs/BENCHMARKS.md "Message-rate peers"): the command line, the message, the
// sender's timed loop, the receiver's check and the one JSON line each prints.
//
//   <peer>_pushpull unix|tcp SECONDS
//
// Arrangement, the same for every peer: one process, the receiver on the main
// thread (it binds first), the sender on a second thread (it connects). The sender
// sends 64-byte messages for SECONDS, then one end message; the receiver checks
// every message and times from the first message to the end message.
//
// Message: word 0 the sequence number, word 1 the kind (0 data, 1 end), the rest a
// fixed pattern. The receiver checks the size, the sequence number and the kind
// of every message, and that the end message's number equals the count received,
// so a peer that loses, duplicates, reorders or truncates cannot report a rate:
// the program exits 1 instead. A watchdog (alarm) bounds the whole run at
// SECONDS + 30 s.
#pragma once

#include <unistd.h>

#include <array>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>

#include "../bench_common.hpp"

namespace peers {

using bench::fail;

constexpr std::size_t kMessageSize = 64;
using Message = std::array<std::byte, kMessageSize>;
enum Kind : std::uint64_t { data = 0, end = 1 };

struct Args {
  std::string transport;  // "unix" or "tcp"
  double seconds = 0;
};

inline Args parse_args(int argc, char** argv, const char* name) {
  if (argc != 3) fail(std::string("usage: ") + name + " unix|tcp SECONDS");
  Args a{argv[1], std::atof(argv[2])};
  if (a.transport != "unix" && a.transport != "tcp") fail("transport must be unix or tcp, not " + a.transport);
  if (!(a.seconds > 0) || a.seconds > 600) fail(std::string("SECONDS must be in (0, 600], not ") + argv[2]);
  // Bounded whatever the peer does: SIGALRM ends the process (non-zero status).
  ::alarm(static_cast<unsigned>(std::ceil(a.seconds)) + 30);
  return a;
}

inline std::uint64_t now_ns() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

inline void stamp(Message& m, std::uint64_t seq, Kind kind) {
  std::memcpy(m.data(), &seq, 8);
  const std::uint64_t k = kind;
  std::memcpy(m.data() + 8, &k, 8);
}

inline Message make_message() {
  Message m;
  m.fill(std::byte{0xa5});
  stamp(m, 0, data);
  return m;
}

// The sender's loop: `send(message)` for `seconds` (the clock is read every 256
// messages), then the end message. Returns how many data messages were sent.
template <class SendFn>
std::uint64_t send_for(double seconds, SendFn&& send) {
  Message m = make_message();
  const std::uint64_t deadline = now_ns() + static_cast<std::uint64_t>(seconds * 1e9);
  std::uint64_t seq = 0;
  while (now_ns() < deadline) {
    for (int i = 0; i < 256; ++i) {
      stamp(m, seq++, data);
      send(std::span<const std::byte>(m));
    }
  }
  stamp(m, seq, end);
  send(std::span<const std::byte>(m));
  return seq;
}

// The receiver's check; feed it every message, it says when the end has come.
class Checker {
 public:
  // True once the end message has arrived (and checked out).
  bool accept(std::span<const std::byte> m) {
    if (m.size() != kMessageSize)
      fail("message " + std::to_string(received_) + " has " + std::to_string(m.size()) + " bytes, not 64");
    std::uint64_t seq = 0, kind = 0;
    std::memcpy(&seq, m.data(), 8);
    std::memcpy(&kind, m.data() + 8, 8);
    if (received_ == 0 && first_ns_ == 0) first_ns_ = now_ns();
    if (seq != received_)
      fail("message " + std::to_string(received_) + " carries sequence number " + std::to_string(seq));
    if (kind == end) {
      end_ns_ = now_ns();
      return true;
    }
    if (kind != data) fail("message " + std::to_string(seq) + " has kind " + std::to_string(kind));
    ++received_;
    return false;
  }
  [[nodiscard]] std::uint64_t received() const { return received_; }
  [[nodiscard]] double seconds() const { return static_cast<double>(end_ns_ - first_ns_) / 1e9; }

 private:
  std::uint64_t received_ = 0;
  std::uint64_t first_ns_ = 0;
  std::uint64_t end_ns_ = 0;
};

// One JSON line on stdout; the sender's count must match what was received.
inline int report(const char* peer, const Args& a, const char* settings, const Checker& c,
                  std::uint64_t sent) {
  if (sent != c.received())
    fail("sent " + std::to_string(sent) + " messages, received " + std::to_string(c.received()));
  if (c.received() == 0 || c.seconds() <= 0) fail("no messages received");
  std::printf(
      "{\"peer\":\"%s\",\"transport\":\"%s\",\"messages\":%llu,\"seconds\":%.4f,\"msgs_per_s\":%.0f,"
      "\"settings\":\"%s\"}\n",
      peer, a.transport.c_str(), static_cast<unsigned long long>(c.received()), c.seconds(),
      static_cast<double>(c.received()) / c.seconds(), settings);
  return 0;
}

// A private directory for a Unix socket path, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/sockit-peers.XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) fail("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace peers
