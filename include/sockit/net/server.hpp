// Server: accepts connections on a connection-oriented address (TCP, Unix stream,
// unix-seqpacket; a datagram address is errc::wrong_transport) and runs them on N
// worker loops, within limits that keep it alive under floods, slow clients and
// fd exhaustion. Seqpacket connections run in record mode (connection.hpp): each
// record is one message, the framing's kind is ignored and its max_frame bounds a
// record.
//
// Workers: each worker is a thread with its own EventLoop. For TCP every worker has
// its own SO_REUSEPORT listener on the same port (the kernel spreads connections);
// for Unix sockets worker 0 accepts and hands connections out round-robin with post().
//
// Limits (all counted in ServerStats, all optional):
//  - max_connections: over the cap a new connection is accepted and closed at once,
//    so the client sees a fast refusal instead of a hang in the backlog;
//  - max_connections_per_peer: per source IP (TCP) or uid (Unix);
//  - accept_rate: a token bucket (connections per second, with a burst);
//  - idle_timeout: a connection that moves no byte for this long is closed
//    (slowloris); one lazily re-armed timer per connection, no per-turn scan;
//  - the Connection's output bound (connection.max_output_bytes) and framing max;
//  - allowed_uids/allowed_gids: Unix peers are checked with SO_PEERCRED before the
//    first byte is read.
// EMFILE/ENFILE: a reserve descriptor is released to accept-and-close the pending
// connection (muduo's trick), so the client sees a prompt close, not a hang; each
// shed connection is counted, and logged at most once per 10 s. Once the queue is
// empty accepting pauses (Linux's accept fails with EMFILE even with nobody
// waiting, and an edge-triggered or io_uring accept would retry at once: 100% CPU)
// until one of the server's connections closes, or for 50 ms at most.
//
// Threads: create/start/shutdown/stats from any one controlling thread; the
// on_connection handler runs on the connection's worker thread.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sockit/address.hpp"
#include "sockit/listener.hpp"
#include "sockit/net/connection.hpp"

namespace sockit::net {

struct ServerOptions {
  ListenOptions listen;
  unsigned threads = 1;
  std::string backend = "auto";
  ConnectionOptions connection;
  std::size_t max_connections = 100000;
  std::size_t max_connections_per_peer = 0;  // 0: no limit
  double accept_rate = 0;                     // connections per second; 0: no limit
  double accept_burst = 64;
  std::chrono::milliseconds idle_timeout{0};  // 0: none
  std::vector<uid_t> allowed_uids;            // empty: anyone (Unix sockets only)
  std::vector<gid_t> allowed_gids;
  // Where the server reports rare events (descriptor exhaustion); called from
  // worker threads. Empty: silent. The library never prints by itself.
  std::function<void(std::string_view)> log;
};

struct ServerStats {
  std::uint64_t accepted = 0;
  std::uint64_t refused_max_connections = 0;
  std::uint64_t refused_per_peer = 0;
  std::uint64_t refused_rate = 0;
  std::uint64_t refused_policy = 0;
  std::uint64_t shed_no_descriptors = 0;  // EMFILE/ENFILE
  std::uint64_t active = 0;
  std::uint64_t closed_by_peer = 0;
  std::uint64_t closed_by_timeout = 0;
  std::uint64_t closed_by_error = 0;
  std::uint64_t closed_by_server = 0;
  // Traffic of open and closed connections alike.
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::uint64_t messages_in = 0;
  std::uint64_t messages_out = 0;
};

class Server {
 public:
  // Called on the worker thread for every admitted connection, before it starts
  // reading: set on_message (and others) here. Do not set on_close: the server owns it.
  using ConnectionHandler = std::function<void(Connection&)>;

  [[nodiscard]] static Result<std::unique_ptr<Server>> create(const Address& address, ServerOptions options,
                                                             ConnectionHandler handler);
  ~Server();  // shutdown(0) if still running

  // Starts the worker threads. Any thread, once.
  [[nodiscard]] Status start();
  // Stops accepting, lets connections finish their queued output and close within
  // `deadline`, then resets whatever is left, and joins the workers.
  void shutdown(std::chrono::milliseconds deadline = std::chrono::seconds(5));

  [[nodiscard]] ServerStats stats() const;
  [[nodiscard]] const Address& local_address() const noexcept { return local_address_; }
  [[nodiscard]] const std::string& backend() const noexcept { return backend_name_; }

  struct Impl;  // internal

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  Address local_address_;
  std::string backend_name_;
};

}  // namespace sockit::net
