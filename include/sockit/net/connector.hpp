// Connector: the client side of the net layer. Connects a stream socket (TCP v4/v6,
// Unix path or abstract) on an EventLoop, with a deadline per attempt and for the
// whole, retrying with exponential backoff and full jitter, and TCP Fast Open on
// request. The outcome is delivered once: a connected non-blocking Fd, or the last
// attempt's error (failure_context() says how many attempts over how long).
//
// Retrying: only errors that a later attempt can cure are retried — refused, timed
// out, unreachable, reset, a Unix path that does not exist yet (ENOENT) or whose
// backlog is full (EAGAIN: a Unix connect never waits, it fails), descriptor or
// port exhaustion. An invalid argument or a permission error ends at once. Before
// retry k the connector waits a random time in [0, b] with b = min(max_backoff,
// initial_backoff x multiplier^(k-1)) ("full jitter"): clients that lost their
// server together do not come back in lockstep, which a fixed backoff would make
// them do. It gives up when max_attempts is reached, or as soon as the next
// attempt could not have 20 ms (or attempt_timeout, if shorter) before the total
// deadline, reporting the last attempt's error (say, refused) rather than a
// timeout that tells nothing new.
//
// Fast Open: with fast_open and data, the data goes with the SYN (sendto with
// MSG_FASTOPEN) when the kernel holds a cookie for the server, and right after the
// handshake otherwise; the connector reports success only once all of it was sent.
// Without data, TCP_FASTOPEN_CONNECT is set: with a cookie the kernel then reports
// the connect done at once and the SYN leaves with the first write, so a server that
// is down shows up as that write's error rather than the connector's. A kernel
// with client Fast Open disabled is simply connected to without it.
//
// Host names are resolved by the caller: create() calls Address::resolve(), which
// does not look up numeric addresses but would block in getaddrinfo for a name.
// A name that resolved to several addresses is tried in turn, one per attempt.
//
// Lifetime: owned by the caller (unique_ptr). Destroying it cancels everything: the
// attempt's socket is closed and the callback never runs. The callback may destroy
// the Connector. Threads: loop thread only; the loop must outlive the Connector.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <system_error>
#include <vector>

#include "sockit/address.hpp"
#include "sockit/event/event_loop.hpp"
#include "sockit/event/io_handle.hpp"
#include "sockit/fd.hpp"
#include "sockit/net/connection.hpp"
#include "sockit/result.hpp"

namespace sockit::net {

struct ConnectorOptions {
  std::chrono::milliseconds attempt_timeout{5000};  // each attempt's deadline
  std::chrono::milliseconds total_timeout{30000};   // the whole connect's deadline
  unsigned max_attempts = 0;                        // 0: as many as fit in total_timeout
  std::chrono::milliseconds initial_backoff{50};
  std::chrono::milliseconds max_backoff{5000};
  double backoff_multiplier = 2.0;
  bool jitter = true;  // full jitter: wait uniform in [0, backoff] rather than backoff
  bool fast_open = false;
  // Sent before success is reported; with fast_open, in the SYN when the kernel can.
  std::string fast_open_data{};
  bool no_delay = false;  // TCP_NODELAY, set before connecting
};

struct ConnectorStats {
  unsigned attempts = 0;
  std::chrono::nanoseconds total_backoff{0};  // time spent waiting between attempts
  std::error_code last_error;
};

class Connector {
 public:
  using DoneFn = std::move_only_function<void(Result<Fd>)>;
  // Before each retry: the attempt that failed (1-based), its error, the wait chosen.
  using RetryFn = std::function<void(unsigned attempt, std::error_code, std::chrono::nanoseconds delay)>;

  // Refuses datagram addresses (errc::wrong_transport) and names that do not resolve.
  [[nodiscard]] static Result<std::unique_ptr<Connector>> create(event::EventLoop& loop,
                                                                 const Address& address,
                                                                 ConnectorOptions options = {});
  ~Connector();
  Connector(const Connector&) = delete;
  Connector& operator=(const Connector&) = delete;

  void on_retry(RetryFn fn) { on_retry_ = std::move(fn); }
  // Starts connecting; `done` runs once, on the loop, never inside this call.
  void start(DoneFn done);

  [[nodiscard]] const ConnectorStats& stats() const noexcept { return stats_; }
  [[nodiscard]] bool finished() const noexcept { return state_ == State::finished; }
  // After a failure: "connect to ADDRESS failed after N attempts in T ms: ERROR".
  [[nodiscard]] std::string failure_context() const;

 private:
  enum class State : std::uint8_t { idle, connecting, backing_off, finished };
  Connector(event::EventLoop& loop, Address address, std::vector<Endpoint> endpoints,
            ConnectorOptions options);

  void begin_attempt();
  Status start_tcp(const Endpoint& endpoint);
  void wait_connected();
  void on_connected();
  void send_initial_data();
  void attempt_failed(std::error_code ec);
  std::chrono::nanoseconds next_backoff();
  void finish(Result<Fd> result);
  void end_attempt();

  event::EventLoop& loop_;
  Address address_;
  std::vector<Endpoint> endpoints_;
  ConnectorOptions options_;
  State state_ = State::idle;
  std::chrono::steady_clock::time_point started_at_;
  std::chrono::steady_clock::time_point deadline_;
  std::chrono::steady_clock::time_point finished_at_;
  std::mt19937_64 random_;

  // The attempt in progress. io_ is declared after fd_: unregistered before it closes.
  Fd fd_;
  event::IoHandle io_;
  std::size_t fast_open_sent_ = 0;  // bytes of fast_open_data already sent
  event::TimerHandle attempt_timer_;
  event::TimerHandle retry_timer_;  // the backoff wait, or the deferred first attempt

  ConnectorStats stats_;
  DoneFn done_;
  RetryFn on_retry_;
};

// Wraps a Connector's outcome in a Connection (not started yet), e.g.
//   connector->start([&](Result<Fd> fd) { auto c = make_connection(loop, std::move(fd)); ... });
[[nodiscard]] Result<std::shared_ptr<Connection>> make_connection(event::EventLoop& loop, Result<Fd> fd,
                                                                  ConnectionOptions options = {});

}  // namespace sockit::net
