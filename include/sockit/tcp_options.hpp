// TCP-level options, mixed into the socket types that can be TCP (StreamSocket,
// Listener). On a Unix socket these return the kernel's error (EOPNOTSUPP or
// ENOPROTOOPT), never a silent success.
//
// The mixin only forwards to out-of-line functions taking the descriptor, so the
// header stays light and every option is implemented once.
#pragma once

#include <chrono>
#include <cstdint>

#include "sockit/result.hpp"

namespace sockit {

// A subset of struct tcp_info worth showing to a person (see tcp(7)).
struct TcpInfo {
  std::uint8_t state = 0;                 // TCP_ESTABLISHED, ...
  std::chrono::microseconds rtt{0};       // smoothed round-trip time
  std::chrono::microseconds rttvar{0};    // its variance
  std::uint32_t retransmits = 0;          // retransmissions of the current segment
  std::uint32_t total_retransmits = 0;    // over the connection's life
  std::uint32_t congestion_window = 0;    // in segments
  std::uint32_t unacked = 0;              // segments in flight
  std::uint32_t mss = 0;                  // send MSS
  bool fast_open_used = false;            // data went out with the SYN
};

// TcpInfo over many connections (a server's live ones) in a fixed size, whatever
// their number: how many, the smoothed RTT's minimum, mean and maximum, the mean
// RTT variance, and retransmissions summed. A summary, not a histogram, because it
// describes the connections open now (a gauge), and a fixed set of figures keeps a
// metrics exporter's output the same size at 10 and at 10,000 connections.
struct TcpInfoSummary {
  std::uint64_t connections = 0;
  std::chrono::microseconds rtt_min{0};
  std::chrono::microseconds rtt_max{0};
  std::chrono::microseconds rtt_sum{0};
  std::chrono::microseconds rttvar_sum{0};
  std::uint64_t total_retransmits = 0;  // over the lives of these connections
  std::uint64_t unacked = 0;            // segments in flight, summed

  void add(const TcpInfo& info);
  TcpInfoSummary& operator+=(const TcpInfoSummary& other);
  // 0 when there are no connections.
  [[nodiscard]] std::chrono::microseconds rtt_mean() const;
  [[nodiscard]] std::chrono::microseconds rttvar_mean() const;
};

struct Keepalive {
  bool enabled = false;
  std::chrono::seconds idle{0};      // TCP_KEEPIDLE: quiet time before the first probe
  std::chrono::seconds interval{0};  // TCP_KEEPINTVL: between probes
  int count = 0;                     // TCP_KEEPCNT: unanswered probes before the reset
};

namespace tcp_option {
// Out-of-line implementations (src/core/tcp_options.cpp); `fd` is borrowed.
Status set_no_delay(int fd, bool on);
Result<bool> no_delay(int fd);
Status set_keepalive(int fd, const Keepalive& k);
Result<Keepalive> keepalive(int fd);
Status set_user_timeout(int fd, std::chrono::milliseconds t);
Result<std::chrono::milliseconds> user_timeout(int fd);
Status set_fast_open(int fd, int queue_length);
Result<int> fast_open(int fd);
Status set_quick_ack(int fd, bool on);
Result<bool> quick_ack(int fd);
Result<TcpInfo> info(int fd);
}  // namespace tcp_option

template <typename Derived>
class TcpOptions {
 public:
  // TCP_NODELAY: send small writes at once instead of waiting for ACKs (Nagle).
  [[nodiscard]] Status set_no_delay(bool on) { return tcp_option::set_no_delay(fd(), on); }
  [[nodiscard]] Result<bool> no_delay() const { return tcp_option::no_delay(fd()); }
  // SO_KEEPALIVE with its three timers; zero durations/count keep the kernel's defaults.
  [[nodiscard]] Status set_keepalive(const Keepalive& k) { return tcp_option::set_keepalive(fd(), k); }
  [[nodiscard]] Result<Keepalive> keepalive() const { return tcp_option::keepalive(fd()); }
  // TCP_USER_TIMEOUT: how long sent data may stay unacknowledged before the connection is dropped.
  [[nodiscard]] Status set_user_timeout(std::chrono::milliseconds t) { return tcp_option::set_user_timeout(fd(), t); }
  [[nodiscard]] Result<std::chrono::milliseconds> user_timeout() const { return tcp_option::user_timeout(fd()); }
  // TCP_FASTOPEN on a listener: the queue of pending fast-open requests (0 disables).
  [[nodiscard]] Status set_fast_open(int queue_length) { return tcp_option::set_fast_open(fd(), queue_length); }
  [[nodiscard]] Result<int> fast_open() const { return tcp_option::fast_open(fd()); }
  // TCP_QUICKACK: the kernel clears it by itself; set it again where it matters.
  [[nodiscard]] Status set_quick_ack(bool on) { return tcp_option::set_quick_ack(fd(), on); }
  [[nodiscard]] Result<bool> quick_ack() const { return tcp_option::quick_ack(fd()); }
  [[nodiscard]] Result<TcpInfo> tcp_info() const { return tcp_option::info(fd()); }

 protected:
  ~TcpOptions() = default;

 private:
  // Only Derived can be a TcpOptions<Derived>: a mismatched CRTP base fails to compile.
  TcpOptions() = default;
  friend Derived;
  [[nodiscard]] int fd() const { return static_cast<const Derived&>(*this).native_handle(); }
};

}  // namespace sockit
