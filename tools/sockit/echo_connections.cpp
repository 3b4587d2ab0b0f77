// The seqpacket half of `sockit echo` (see echo_server.hpp for why streams moved
// to net::Server and seqpacket did not).
#include <poll.h>

#include <cerrno>
#include <vector>

#include "channel.hpp"
#include "echo_server.hpp"
#include "errors.hpp"
#include "log.hpp"
#include "out_queue.hpp"
#include "signals.hpp"

namespace sockit::cli {
namespace {

// Connections accepted, and reads made on one connection, per wakeup: enough to
// keep up, small enough that one busy client cannot starve the others.
constexpr int kAcceptBurst = 64;
constexpr int kReadBurst = 16;
// Out of descriptors: accepting again at once would fail again, so the listener
// rests this long (or until a connection closes).
constexpr int kAcceptPauseMs = 100;

struct Connection {
  Channel channel;
  OutQueue out;
  bool read_closed = false;  // the client's end of stream has arrived
  bool done = false;         // to be closed at the end of this iteration
};

class EchoLoop {
 public:
  EchoLoop(Listener& listener, int signal_fd, const EchoOptions& options, EchoStats& stats)
      : listener_(listener),
        signal_fd_(signal_fd),
        options_(options),
        stats_(stats),
        buffer_(kReceiveBuffer) {}

  Result<int> run() {
    for (;;) {
      fds_.clear();
      fds_.push_back({signal_fd_, POLLIN, 0});
      fds_.push_back({accept_paused_ ? -1 : listener_.native_handle(), POLLIN, 0});  // -1: ignored
      for (const Connection& c : connections_) {
        short events = 0;
        if (!c.read_closed && !c.out.above_high_water()) events |= POLLIN;
        if (!c.out.empty()) events |= POLLOUT;
        fds_.push_back({c.channel.fd(), events, 0});
      }
      const int ready = ::poll(fds_.data(), fds_.size(), accept_paused_ ? kAcceptPauseMs : -1);
      if (ready < 0) {
        if (errno == EINTR) continue;
        return fail(std::error_code(errno, std::system_category()));
      }
      if (fds_[0].revents != 0) return take_signal(signal_fd_);
      if (accept_paused_ && ready == 0) accept_paused_ = false;

      // Connections first: accepting appends to connections_, and fds_[i + 2] must
      // still describe connections_[i].
      for (std::size_t i = 0; i < connections_.size(); ++i) {
        if (fds_[i + 2].revents != 0) serve(connections_[i], fds_[i + 2].revents);
      }
      close_finished();
      if (fds_[1].revents != 0) accept_burst();
    }
  }

 private:
  // Stream reads come in 64 KiB pieces; a seqpacket record can be as large as the
  // sender's socket buffer (~208 KiB by default), so the buffer fits one whole.
  static constexpr std::size_t kReceiveBuffer = 256 * 1024;

  void accept_burst() {
    for (int i = 0; i < kAcceptBurst; ++i) {
      auto channel = accept_channel(listener_, try_once(), /*non_blocking=*/true);
      if (!channel) {
        const auto& ec = channel.error();
        if (would_block(ec)) return;
        note("accept: {}", describe(ec));
        if (ec == std::errc::too_many_files_open || ec == std::errc::too_many_files_open_in_system) {
          accept_paused_ = true;
          return;
        }
        continue;  // ECONNABORTED and the like concern one client only
      }
      if (connections_.size() >= options_.max_connections) {
        ++stats_.refused;
        note("over --max-conns {}: connection closed", options_.max_connections);
        continue;  // the Channel closes as it goes out of scope
      }
      ++stats_.connections;
      if (verbose()) {
        if (auto peer = channel->peer_address(); peer) note("connection from {}", peer->to_string());
      }
      connections_.push_back(Connection{std::move(*channel), {}, false, false});
    }
  }

  void serve(Connection& c, short revents) {
    if (!c.read_closed && !c.out.above_high_water() && (revents & (POLLIN | POLLHUP | POLLERR))) {
      receive(c);
    }
    if (!c.done && !c.out.empty()) send(c);
    // Everything echoed and the client has finished: close (it reads end of stream).
    if (c.read_closed && c.out.empty()) c.done = true;
  }

  void receive(Connection& c) {
    // The span passed to recv must be the part of the buffer a record fits in;
    // a stream takes any amount.
    const std::span<std::byte> into = std::span(buffer_).first(c.channel.receive_buffer_size());
    for (int i = 0; i < kReadBurst && !c.out.above_high_water(); ++i) {
      auto n = c.channel.recv(into);
      if (!n) {
        if (would_block(n.error())) return;
        note("receive: {}: connection closed", describe(n.error()));
        c.done = true;
        return;
      }
      if (*n == 0) {
        c.read_closed = true;
        return;
      }
      stats_.bytes_in += *n;
      c.out.push(into.first(*n));
    }
  }

  void send(Connection& c) {
    const std::size_t before = c.out.bytes();
    auto drained = c.channel.flush(c.out);
    stats_.bytes_out += before - c.out.bytes();
    if (!drained) {
      note("send: {}: connection closed", describe(drained.error()));
      c.done = true;
    }
  }

  void close_finished() {
    std::erase_if(connections_, [](const Connection& c) { return c.done; });
    if (accept_paused_ && connections_.size() + 2 < fds_.size())
      accept_paused_ = false;  // a descriptor freed
  }

  Listener& listener_;
  const int signal_fd_;
  const EchoOptions& options_;
  EchoStats& stats_;
  std::vector<Connection> connections_;
  std::vector<pollfd> fds_;
  std::vector<std::byte> buffer_;  // shared by all connections: data moves straight into a queue
  bool accept_paused_ = false;
};

}  // namespace

Result<int> serve_echo_connections(Listener& listener, int signal_fd, const EchoOptions& options,
                                   EchoStats& stats) {
  return EchoLoop(listener, signal_fd, options, stats).run();
}

}  // namespace sockit::cli
