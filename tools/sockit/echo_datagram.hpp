// The datagram half of `sockit echo` (udp://, unix-dgram: path or abstract): each
// datagram goes back to its sender through a net::DatagramEndpoint on an
// event::EventLoop of any backend (recvmmsg/sendmmsg batches, a bounded reply queue).
//
// Threads: N worker threads, each running one loop with one endpoint. UDP with
// N > 1 gives every worker its own socket bound to the same address with
// SO_REUSEPORT, so the kernel spreads senders across them (by a hash of the
// sender: one sender's datagrams stay on one worker, in order). A unix-dgram
// address is one socket and is served by one thread: splitting one socket's queue
// across threads would reorder the echo a Unix datagram client can otherwise rely
// on. The object itself is used from one thread (the main one), which only waits
// for SIGINT/SIGTERM (and prints the periodic stats line); block the stop signals
// (open_stop_signals) before start(), so the workers inherit the mask.
//
// Nothing a client does stops the echo: a datagram over max_datagram_size is
// counted as truncated and not echoed (an echo of a cut datagram would be a lie);
// a reply the kernel refuses (a Unix sender that is gone: ENOENT/ECONNREFUSED), or
// would only take later (a Unix sender whose queue is full because it does not
// read: waiting for it would hold up every other client's reply), or that finds the
// reply queue full is counted as dropped, as is a datagram from an unbound Unix
// sender, which has no address to answer. Only a receive error the
// endpoint cannot survive (a bug, not a client) ends it, as a failure.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "sockit/fd.hpp"
#include "sockit/net/datagram_endpoint.hpp"
#include "sockit/unix_file_options.hpp"

namespace sockit::cli {

// The largest datagram echoed by default (--max-frame raises or lowers it): above
// any UDP payload (65,507 bytes over IPv4), below the ~208 KiB a default Unix
// socket buffer lets through.
inline constexpr std::size_t kDefaultMaxDatagram = 64 * 1024;
// --max-frame's ceiling for datagrams: each worker holds a receive buffer of at least
// this much, and no default kernel limit lets a larger datagram through anyway.
inline constexpr std::size_t kMaxDatagramCeiling = 16u << 20;

struct DatagramEchoOptions {
  std::string backend = "auto";
  unsigned threads = 1;  // > 1 for UDP only
  std::size_t max_datagram_size = kDefaultMaxDatagram;
  UnixFileOptions unix_file{};  // a unix-dgram: path's socket file
  std::chrono::milliseconds bind_retry_for{0};  // --bind-retry (see bind_retry_option.hpp)
  int family = AF_UNSPEC;                        // -4/-6 (see family_flags.hpp)
};

struct DatagramEchoStats {
  std::uint64_t datagrams_in = 0;  // received whole
  std::uint64_t bytes_in = 0;
  std::uint64_t datagrams_out = 0;  // echoed
  std::uint64_t bytes_out = 0;
  std::uint64_t truncated = 0;  // over max_datagram_size: not echoed
  std::uint64_t dropped = 0;    // replies not sent: queue full, refused by the kernel, no sender address
  std::vector<std::uint64_t> datagrams_in_per_thread;  // stop() only: how SO_REUSEPORT spread them
};

class DatagramEcho {
 public:
  // Binds, creates the loops and starts the workers. errc::invalid_argument for
  // threads > 1 on a unix-dgram address (the CLI refuses that first).
  [[nodiscard]] static Result<std::unique_ptr<DatagramEcho>> start(const Address& address,
                                                                   const DatagramEchoOptions& options);
  ~DatagramEcho();  // stops the workers if stop() was not called
  DatagramEcho(const DatagramEcho&) = delete;
  DatagramEcho& operator=(const DatagramEcho&) = delete;

  // The bound address (with the real port for port 0).
  [[nodiscard]] const Address& local_address() const { return local_; }
  // The backend in use ("epoll" when auto fell back).
  [[nodiscard]] const std::string& backend() const { return backend_; }

  // Waits for a stop signal on `signal_fd` (borrowed) and returns its number. With a
  // non-zero `stats_interval`, prints one stats line on stderr every interval. Fails
  // if poll(2) does, or a worker's endpoint closed on a receive error;
  // failed_in() then names the operation ("poll", "receive").
  [[nodiscard]] Result<int> wait_for_stop(int signal_fd, std::chrono::milliseconds stats_interval);
  [[nodiscard]] const char* failed_in() const { return failed_in_; }

  // Closes every endpoint (replies still queued are dropped and counted; a Unix
  // socket file is removed), joins the workers and returns the totals. Idempotent.
  DatagramEchoStats stop();

 private:
  struct Worker;
  DatagramEcho() = default;
  Status add_worker(const Address& bind_address, bool share_port, const DatagramEchoOptions& options);
  void report_failure(std::error_code ec);  // any thread
  DatagramEchoStats collect();

  std::vector<std::unique_ptr<Worker>> workers_;
  Fd failed_;  // eventfd, written when a worker's endpoint closes on an error
  std::mutex failure_mutex_;
  std::error_code failure_;  // the first such error
  Address local_;
  std::string backend_;
  const char* failed_in_ = "poll";
  bool stopped_ = false;
  DatagramEchoStats final_;
};

// "sockit: stats: ..." (one line, flushed), for --stats-interval.
void print_datagram_stats_line(const DatagramEchoStats& stats);
// The lines after the one-line summary: backend and threads, the datagram counts.
void print_datagram_details(const DatagramEchoStats& stats, const std::string& backend, unsigned threads,
                            std::size_t max_datagram_size);

}  // namespace sockit::cli
