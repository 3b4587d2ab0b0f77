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
// The first TCP listener binds without SO_REUSEPORT (it is set once it listens), so
// a port something else already listens on is errc address_in_use for any number
// of threads, and a second server never silently shares the port (ListenOptions::
// reuse_port = true asks for sharing on purpose and skips that check).
//
// Limits (all counted in ServerStats, all optional):
//  - max_connections: over the cap a new connection is accepted and closed at once,
//    so the client sees a fast refusal instead of a hang in the backlog;
//  - max_connections_per_peer: per source IP (TCP) or uid (Unix);
//  - accept_rate: a token bucket (connections per second, with a burst);
//  - idle_timeout: a connection that makes no progress for this long is reset
//    (slowloris; see ServerOptions::idle_timeout for what counts as progress);
//  - the Connection's output bound (connection.max_output_bytes) and framing max;
//  - allowed_uids/allowed_gids: Unix peers are checked with SO_PEERCRED before the
//    first byte is read; on a TCP address create() refuses them (invalid_argument)
//    rather than serve anyone while the caller believes a policy holds.
// EMFILE/ENFILE: a reserve descriptor is released to accept-and-close the pending
// connection (muduo's trick), so the client sees a prompt close, not a hang; each
// shed connection is counted, and logged at most once per 10 s. Once the queue is
// empty accepting pauses (Linux's accept fails with EMFILE even with nobody
// waiting, and an edge-triggered or io_uring accept would retry at once: 100% CPU)
// until one of the server's connections closes, or for 50 ms at most.
//
// Threads: create/start/shutdown from any one controlling thread; the
// on_connection handler runs on the connection's worker thread. stats(),
// tcp_summary() and append_metrics() may also be called from any other thread
// while the server runs (a metrics exporter's), never concurrently with the
// Server's destruction.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sockit/address.hpp"
#include "sockit/ancillary.hpp"
#include "sockit/listener.hpp"
#include "sockit/metrics.hpp"
#include "sockit/net/connection.hpp"
#include "sockit/tcp_options.hpp"

namespace sockit::net {

// One thing that happened to one connection, for ServerOptions::on_event (a log
// of accepts, refusals and closes: `sockit echo -v`).
struct ServerEvent {
  enum class Kind : std::uint8_t {
    accepted,                 // admitted; the handler runs next
    refused_max_connections,  // accepted and closed at once: over max_connections
    refused_per_peer,         // ... over max_connections_per_peer
    refused_rate,             // ... over accept_rate
    refused_policy,           // ... a Unix peer outside allowed_uids/allowed_gids
    shed,                     // ... out of descriptors (EMFILE/ENFILE)
    closed,                   // an admitted connection ended: `close` says how
  };
  // How an admitted connection ended; the same split as ServerStats::closed_by_*.
  enum class Close : std::uint8_t { by_peer, idle_timeout, protocol_error, error, shutdown };

  Kind kind = Kind::accepted;
  // Numbers the admitted connections 1, 2, ... (accepted and closed share it);
  // 0 for a connection that was never admitted.
  std::uint64_t id = 0;
  // TCP: the client's address. Unix: the client's bound name, usually unnamed
  // (a Unix client rarely binds).
  Address peer;
  // Unix sockets: the peer's pid/uid/gid when it connected (SO_PEERCRED).
  std::optional<Credentials> credentials;
  // `closed` only: how, the error behind it (empty for a clean close by the peer
  // or at shutdown; errc::frame_too_large for protocol_error), and the
  // connection's traffic.
  Close close = Close::by_peer;
  std::error_code error;
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
};

struct ServerOptions {
  ListenOptions listen;
  unsigned threads = 1;
  std::string backend = "auto";
  // Each worker loop's other settings (receive buffers, io_uring ring sizes, zero
  // copy); its `backend` is ignored: the field above names it, and
  // io_uring_single_thread is always on (each worker loop lives on its own thread).
  event::LoopOptions loop;
  ConnectionOptions connection;
  std::size_t max_connections = 100000;
  std::size_t max_connections_per_peer = 0;  // 0: no limit
  double accept_rate = 0;                     // connections per second; 0: no limit
  double accept_burst = 64;
  // 0: none. Otherwise a connection is reset (closed_by_timeout) once it has made
  // no progress for this long. Progress is a complete incoming message (with raw
  // framing every chunk read is one; on seqpacket every record) or output bytes the
  // peer took: a slowloris trickling a frame byte by byte is dropped, a slow client
  // reading a long reply is not. Measured by checks every idle_timeout/8 (no work
  // per message), so a quiet connection is reset between idle_timeout and
  // idle_timeout * 9/8 after its last progress, never before.
  std::chrono::milliseconds idle_timeout{0};
  // Unix sockets only (SO_PEERCRED, checked before the first byte is read): a peer
  // whose uid is in allowed_uids or whose primary gid is in allowed_gids is served,
  // any other is accepted and closed at once (refused_policy). Both empty: anyone.
  // Supplementary groups are not seen: the kernel reports the primary gid only.
  std::vector<uid_t> allowed_uids;
  std::vector<gid_t> allowed_gids;
  // Where the server reports rare events (descriptor exhaustion); called from
  // worker threads. Empty: silent. The library never prints by itself.
  std::function<void(std::string_view)> log;
  // Called for every connection accepted, refused, shed or closed (ServerEvent),
  // from the worker thread that handled it; a connection's `closed` comes after
  // its `accepted`. Empty: no per-connection work at all. When set, each
  // connection costs a getpeername (and SO_PEERCRED on Unix) at accept.
  std::function<void(const ServerEvent&)> on_event;
};

struct ServerStats {
  std::uint64_t accepted = 0;  // admitted: the refused_* and shed ones are not included
  std::uint64_t refused_max_connections = 0;
  std::uint64_t refused_per_peer = 0;
  std::uint64_t refused_rate = 0;
  std::uint64_t refused_policy = 0;
  std::uint64_t shed_no_descriptors = 0;  // EMFILE/ENFILE
  std::uint64_t active = 0;
  std::uint64_t closed_by_peer = 0;
  std::uint64_t closed_by_timeout = 0;
  // The peer broke the framing (errc::frame_too_large: a frame, line or record over
  // max_frame). Not included in closed_by_error.
  std::uint64_t closed_by_protocol_error = 0;
  // Every other error: reset by the peer, a failed send, a handler's abort(). A
  // send refused over max_output_bytes does not close by itself; a handler that
  // aborts then is counted here, since on_close cannot tell its reason apart.
  std::uint64_t closed_by_error = 0;
  std::uint64_t closed_by_server = 0;
  // Traffic of open and closed connections alike.
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::uint64_t messages_in = 0;
  std::uint64_t messages_out = 0;
  // The worker loops' counters, summed (events per wait, io_uring receive re-arms
  // and empty buffer rings): what the engine did to carry the traffic.
  event::LoopStats loops;
};

class Server {
 public:
  // Called on the worker thread for every admitted connection, before it starts
  // reading: set on_message (and others) here. An on_close set here runs after the
  // server's own bookkeeping (the connection is no longer counted as active then).
  using ConnectionHandler = std::function<void(Connection&)>;

  [[nodiscard]] static Result<std::unique_ptr<Server>> create(const Address& address, ServerOptions options,
                                                             ConnectionHandler handler);
  ~Server();  // shutdown(0) if still running

  // Starts the worker threads. Any thread, once.
  [[nodiscard]] Status start();
  // Stops accepting, lets connections finish their queued output and close within
  // `deadline`, then resets whatever is left, and joins the workers.
  void shutdown(std::chrono::milliseconds deadline = std::chrono::seconds(5));
  // The same, and the wait for connections to finish also ends, at once, when
  // `cut_short` returns true (asked every few milliseconds on the calling thread:
  // a second Ctrl-C, say).
  void shutdown(std::chrono::milliseconds deadline, const std::function<bool()>& cut_short);

  [[nodiscard]] ServerStats stats() const;
  // TCP_INFO over the live connections (a TCP server's; empty for Unix, before
  // start() and once shutdown() began), read by a task posted to each worker loop,
  // since only a connection's loop thread may touch its socket. Waits at most
  // `within` for the workers: one that does not answer in time (busy for that
  // long) is left out of the summary rather than hold the caller. Called on a
  // worker's own thread, that worker's part is read directly (no wait on itself).
  [[nodiscard]] TcpInfoSummary tcp_summary(std::chrono::milliseconds within = std::chrono::seconds(1)) const;
  // Everything the server knows as metrics samples (net/metrics.hpp,
  // docs/METRICS.md): stats(), the connection cap, the worker count, the backend
  // and its fallbacks, and for TCP tcp_summary(within). `labels` go on every sample.
  void append_metrics(MetricsSnapshot& out, const MetricLabels& labels = {},
                      std::chrono::milliseconds within = std::chrono::seconds(1)) const;
  // The connection cap in force: ServerOptions::max_connections, lowered by
  // create() on a backend that cannot watch descriptors past a number (select:
  // FD_SETSIZE) to the free descriptor numbers below it. A connection whose
  // descriptor still lands past it is refused and counted as refused_max_connections.
  [[nodiscard]] std::size_t max_connections() const noexcept;
  // Worker threads (ServerOptions::threads, at least 1).
  [[nodiscard]] unsigned threads() const noexcept;
  [[nodiscard]] const Address& local_address() const noexcept { return local_address_; }
  [[nodiscard]] const std::string& backend() const noexcept { return backend_name_; }
  // The backend's "feature: reason" for each feature it could not use (the same on
  // every worker: one kernel); empty when it runs as designed.
  [[nodiscard]] const std::vector<std::string>& backend_fallbacks() const noexcept {
    return backend_fallbacks_;
  }

  struct Impl;  // internal

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  Address local_address_;
  std::string backend_name_;
  std::vector<std::string> backend_fallbacks_;
};

}  // namespace sockit::net
