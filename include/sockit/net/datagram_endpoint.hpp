// DatagramEndpoint: a datagram socket (UDP v4/v6, Unix datagram by path or
// abstract name) driven by an EventLoop: every datagram in, with its sender; a
// bounded queue of datagrams out; both moved in batches.
//
// Receiving waits for readability (IoHandle::wait_readable), then drains the socket
// with recvmmsg, `receive_batch` datagrams per call, at most `max_batches_per_wakeup`
// calls before other descriptors get their turn. Each datagram goes to on_datagram
// with its sender. One larger than `max_datagram_size` is never delivered as if it
// were whole: it is counted (stats().truncated) and reported to on_truncated with
// its real size. The cost of batching is memory: receive_batch x max_datagram_size
// bytes per receiving endpoint (2 MiB by default, allocated by start()); lower
// max_datagram_size when datagrams are known to be small or endpoints are many.
//
// Sending queues a copy of the datagram. The queue is written with sendmmsg at the
// end of the current receive drain or, outside one, on the next loop turn (a burst
// of send_to calls becomes a few syscalls). When the kernel says EAGAIN the queue
// waits for writability; beyond max_queued_datagrams or max_queued_bytes send_to
// refuses with errc::limit_reached (and counts the datagram as dropped): datagram
// senders must shed load, not buffer it without end. The queue is one line: while
// its first datagram waits, so do the rest. An unconnected Unix datagram socket gets
// EAGAIN when the *receiver's* queue is full (net.unix.max_dgram_qlen, 10 by
// default), so a server answering many Unix peers would let one that does not read
// hold up the replies to every other; drop_when_blocked trades that wait for a loss:
// on EAGAIN the first datagram is dropped (counted, reported to on_error) and the
// rest go on. A datagram the kernel refuses
// (EMSGSIZE, a Unix peer that is gone, ECONNREFUSED on a connected UDP socket) is
// dropped, counted and reported to on_error; the endpoint stays open.
//
// Lifetime: always held by shared_ptr (create() makes one). close() stops
// everything at once: queued datagrams are dropped, the socket is closed (a Unix
// socket file it bound is removed), on_close runs once, and no callback runs
// again. Callbacks may call any method, including close() and send_to().
//
// Threads: loop thread only (create it on the loop thread, or post() there).
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <system_error>
#include <vector>

#include "sockit/address.hpp"
#include "sockit/datagram_socket.hpp"
#include "sockit/event/event_loop.hpp"
#include "sockit/event/io_handle.hpp"

namespace sockit::net {

struct DatagramEndpointOptions {
  std::size_t max_datagram_size = 64 * 1024;  // receive buffer per datagram
  unsigned receive_batch = 32;                // datagrams per recvmmsg
  unsigned send_batch = 32;                   // datagrams per sendmmsg
  unsigned max_batches_per_wakeup = 8;        // recvmmsg calls before yielding to other descriptors
  std::size_t max_queued_datagrams = 4096;    // send_to refuses beyond these
  std::size_t max_queued_bytes = 4u << 20;
  // On EAGAIN drop the datagram instead of waiting (see above): for servers whose
  // peers must not be able to stall one another.
  bool drop_when_blocked = false;
};

// Settings for a server answering many peers with datagrams of up to
// `max_datagram_size` bytes (what `sockit echo udp://...` runs): receive memory
// held to the default's 2 MiB (fewer datagrams per recvmmsg when they are large,
// never fewer than one), a reply queue that takes at least two of the largest
// datagram (or it could never be answered), and drop_when_blocked, so that a
// peer that does not read cannot hold up the replies to the others.
[[nodiscard]] DatagramEndpointOptions server_endpoint_options(std::size_t max_datagram_size);

struct DatagramEndpointStats {
  std::uint64_t datagrams_in = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t datagrams_out = 0;
  std::uint64_t bytes_out = 0;
  std::uint64_t truncated = 0;      // larger than max_datagram_size: reported, not delivered
  std::uint64_t dropped = 0;        // refused by the queue bound or the kernel, or unsent at close
  std::uint64_t receive_calls = 0;  // recvmmsg calls (including the one that says EAGAIN)
  std::uint64_t send_calls = 0;     // sendmmsg calls
};

class DatagramEndpoint : public std::enable_shared_from_this<DatagramEndpoint> {
 public:
  // std::function, not move_only_function: libstdc++ 12's move_only_function
  // needs its parameter types complete, and DatagramEndpoint is not complete here.
  using DatagramFn = std::function<void(DatagramEndpoint&, std::span<const std::byte>, const Address& from)>;
  using TruncatedFn = std::function<void(DatagramEndpoint&, std::size_t real_size, const Address& from)>;
  using ErrorFn = std::function<void(DatagramEndpoint&, std::error_code)>;
  using CloseFn = std::function<void(DatagramEndpoint&, std::error_code)>;

  // Takes a bound (or connected) socket; it is made non-blocking.
  [[nodiscard]] static Result<std::shared_ptr<DatagramEndpoint>> create(event::EventLoop& loop,
                                                                        DatagramSocket socket,
                                                                        DatagramEndpointOptions options = {});
  ~DatagramEndpoint();
  DatagramEndpoint(const DatagramEndpoint&) = delete;
  DatagramEndpoint& operator=(const DatagramEndpoint&) = delete;

  void on_datagram(DatagramFn fn) { on_datagram_ = std::move(fn); }
  void on_truncated(TruncatedFn fn) { on_truncated_ = std::move(fn); }
  // A datagram was dropped by the kernel, or the socket reported an asynchronous
  // error (ICMP unreachable on a connected socket). Not fatal.
  void on_error(ErrorFn fn) { on_error_ = std::move(fn); }
  // After close(), or a receive error that cannot be recovered from (the reason).
  void on_close(CloseFn fn) { on_close_ = std::move(fn); }

  // Starts receiving. Call once, after setting the callbacks. Sending needs no start().
  void start();

  // Queues one datagram for `to`. A numeric address is converted without a lookup;
  // a host name would block the loop in getaddrinfo, so resolve it beforehand.
  [[nodiscard]] Status send_to(std::span<const std::byte> data, const Address& to);
  [[nodiscard]] Status send_to(std::span<const std::byte> data, const Endpoint& to);
  // Queues one datagram for the connected peer.
  [[nodiscard]] Status send(std::span<const std::byte> data);

  // Drops what is queued, closes the socket, runs on_close({}). Idempotent.
  void close();

  [[nodiscard]] bool is_open() const noexcept { return open_; }
  [[nodiscard]] const DatagramEndpointStats& stats() const noexcept { return stats_; }
  [[nodiscard]] std::size_t queued_datagrams() const noexcept { return queue_.size(); }
  [[nodiscard]] std::size_t queued_bytes() const noexcept { return queued_bytes_; }
  [[nodiscard]] Result<Address> local_address() const { return socket_.local_address(); }
  [[nodiscard]] int native_handle() const noexcept { return socket_.native_handle(); }

 private:
  struct Outgoing {
    std::vector<std::byte> data;
    Endpoint to;
    bool has_to = false;
  };

  DatagramEndpoint(event::EventLoop& loop, DatagramSocket socket, DatagramEndpointOptions options);
  Status enqueue(std::span<const std::byte> data, const Endpoint* to);
  void arm_receive();
  void handle_readable();
  void deliver(std::size_t index);
  void schedule_flush();
  void flush();
  // Returns true if flushing may go on (the datagram was dropped), false to wait.
  bool handle_send_error(std::error_code ec);
  void finish(std::error_code reason);
  template <typename Fn, typename... Args>
  void call(Fn DatagramEndpoint::*member, Args&&... args);

  event::EventLoop& loop_;
  DatagramSocket socket_;
  event::IoHandle io_;  // declared after socket_: unregistered before the descriptor closes
  DatagramEndpointOptions options_;
  int family_ = AF_UNSPEC;  // of the bound socket: picks the endpoint of a name with both
  bool open_ = true;
  bool started_ = false;
  bool draining_ = false;  // inside handle_readable: flush at its end
  bool flushing_ = false;
  bool flush_scheduled_ = false;  // flush_timer_ is a zero-delay flush
  bool waiting_ = false;          // for writability (or the stall timer) after EAGAIN
  unsigned stalls_ = 0;           // EAGAINs in a row without a datagram sent

  // The recvmmsg/sendmmsg arrays (and the receive buffers they point into): kernel
  // structures, so they live in the .cpp. Never null; kept after close().
  struct Batch;
  std::unique_ptr<Batch> batch_;

  std::deque<Outgoing> queue_;
  std::size_t queued_bytes_ = 0;
  event::TimerHandle flush_timer_;

  DatagramEndpointStats stats_;
  DatagramFn on_datagram_;
  TruncatedFn on_truncated_;
  ErrorFn on_error_;
  CloseFn on_close_;
};

}  // namespace sockit::net
