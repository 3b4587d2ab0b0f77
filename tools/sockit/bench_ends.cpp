#include "bench_ends.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <deque>
#include <type_traits>
#include <vector>

#include "sockit/datagram_socket.hpp"
#include "sockit/event/event_loop.hpp"
#include "sockit/event/io_handle.hpp"
#include "sockit/seqpacket_socket.hpp"
#include "sockit/shm_ring.hpp"
#include "sockit/stream_socket.hpp"

namespace sockit::cli {
namespace {

std::error_code last_error() { return {errno, std::system_category()}; }

bool is_message(BenchKind kind) { return kind == BenchKind::datagram || kind == BenchKind::seqpacket; }

// --- raw syscalls: the floor --------------------------------------------------------

class RawEnd final : public BenchEnd {
 public:
  RawEnd(Fd in, Fd out, BenchKind kind) : in_(std::move(in)), out_(std::move(out)), kind_(kind) {}

  Status send(std::span<const std::byte> message) override {
    const int fd = out_ ? out_.get() : in_.get();
    std::size_t sent = 0;
    do {
      const ssize_t n = kind_ == BenchKind::pipe ? ::write(fd, message.data() + sent, message.size() - sent)
                                                 : ::send(fd, message.data() + sent, message.size() - sent,
                                                          MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        return std::unexpected(last_error());
      }
      sent += static_cast<std::size_t>(n);
    } while (sent < message.size() && !is_message(kind_));
    return {};
  }

  Result<std::size_t> receive(std::span<std::byte> buffer) override {
    if (is_message(kind_)) {
      for (;;) {
        const ssize_t n = ::recv(in_.get(), buffer.data(), buffer.size(), MSG_TRUNC);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return std::unexpected(receive_error());
        if (n == 0 && kind_ == BenchKind::seqpacket) return std::unexpected(make_error_code(errc::end_of_stream));
        if (static_cast<std::size_t>(n) > buffer.size()) return std::unexpected(make_error_code(errc::message_truncated));
        return static_cast<std::size_t>(n);
      }
    }
    std::size_t got = 0;
    while (got < buffer.size()) {
      const ssize_t n = kind_ == BenchKind::pipe ? ::read(in_.get(), buffer.data() + got, buffer.size() - got)
                                                 : ::recv(in_.get(), buffer.data() + got, buffer.size() - got, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return std::unexpected(receive_error());
      if (n == 0) return std::unexpected(make_error_code(errc::end_of_stream));
      got += static_cast<std::size_t>(n);
    }
    return got;
  }

 private:
  // SO_RCVTIMEO expiring reads as EAGAIN.
  static std::error_code receive_error() {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return make_error_code(errc::timed_out);
    return last_error();
  }

  Fd in_;
  Fd out_;
  BenchKind kind_;
};

// --- the sockit blocking API --------------------------------------------------------

// StreamSocket, DatagramSocket or SeqPacketSocket through its own calls.
template <typename SocketType>
class SocketEnd final : public BenchEnd {
 public:
  explicit SocketEnd(SocketType socket) : socket_(std::move(socket)) {}

  Status send(std::span<const std::byte> message) override {
    if constexpr (std::is_same_v<SocketType, StreamSocket>) {
      return socket_.send_all(message);
    } else {
      return socket_.send(message);
    }
  }

  Result<std::size_t> receive(std::span<std::byte> buffer) override {
    if constexpr (std::is_same_v<SocketType, StreamSocket>) {
      if (auto s = socket_.recv_exact(buffer); !s) return std::unexpected(s.error());
      return buffer.size();
    } else {
      auto n = socket_.recv(buffer);
      // A seqpacket peer's close reads as 0 (our records are never empty).
      if constexpr (std::is_same_v<SocketType, SeqPacketSocket>) {
        if (n && *n == 0) return std::unexpected(make_error_code(errc::end_of_stream));
      }
      return n;
    }
  }

 private:
  SocketType socket_;
};

class ShmEnd final : public BenchEnd {
 public:
  ShmEnd(ShmRing ring, std::chrono::milliseconds reply_timeout) : ring_(std::move(ring)), timeout_(reply_timeout) {}
  Status send(std::span<const std::byte> message) override { return ring_.send(message); }
  Result<std::size_t> receive(std::span<std::byte> buffer) override {
    return ring_.receive(buffer, timeout_.count() > 0 ? Deadline::after(timeout_) : Deadline::never());
  }

 private:
  ShmRing ring_;
  std::chrono::milliseconds timeout_;
};

// --- the event loop -------------------------------------------------------------------

// Drives the loop one turn at a time until the message at hand is through. What
// the multishot receive delivers beyond the message asked for waits in `inbox_`
// (with its datagram lengths for message transports); above kPauseAbove bytes
// reading is paused, so a fast sender cannot grow it without bound.
class LoopEnd final : public BenchEnd {
 public:
  static Result<std::unique_ptr<BenchEnd>> create(Fd fd, BenchKind kind, const std::string& backend,
                                                  std::chrono::milliseconds reply_timeout) {
    event::LoopOptions options;
    options.backend = backend;
    auto loop = event::EventLoop::create(options);
    if (!loop) return std::unexpected(loop.error());
    std::unique_ptr<LoopEnd> end(new LoopEnd(std::move(*loop), std::move(fd), kind, reply_timeout));
    auto io = end->loop_->watch(end->fd_.get());
    if (!io) return std::unexpected(io.error());
    end->io_ = std::move(*io);
    end->io_.receive([self = end.get()](Result<std::span<const std::byte>> r) { self->on_receive(r); });
    return std::unique_ptr<BenchEnd>(std::move(end));
  }

  Status send(std::span<const std::byte> message) override {
    std::size_t sent = 0;
    while (sent < message.size()) {
      // Readiness backends write at once here; io_uring takes nothing (0).
      auto now = io_.send_now(message.subspan(sent));
      if (now) sent += *now;
      if (sent == message.size()) break;
      send_result_.reset();
      const std::span<const std::byte> rest = message.subspan(sent);
      io_.send(std::span(&rest, 1), [this](Result<std::size_t> r) { send_result_ = r; });
      while (!send_result_) {
        if (auto s = turn(); !s) return s;
      }
      if (!*send_result_) return std::unexpected(send_result_->error());
      sent += **send_result_;
      if (is_message(kind_)) break;
    }
    return {};
  }

  Result<std::size_t> receive(std::span<std::byte> buffer) override {
    std::optional<std::chrono::steady_clock::time_point> give_up;
    while (!has_message(buffer.size())) {
      if (error_) return std::unexpected(error_);
      if (closed_) return std::unexpected(make_error_code(errc::end_of_stream));
      if (timeout_.count() > 0) {
        const auto now = std::chrono::steady_clock::now();
        if (!give_up) give_up = now + timeout_;
        if (now >= *give_up) return std::unexpected(make_error_code(errc::timed_out));
      }
      if (auto s = turn(); !s) return std::unexpected(s.error());
    }
    std::size_t size = buffer.size();
    if (is_message(kind_)) {
      size = lengths_.front();
      lengths_.pop_front();
    }
    const bool fits = size <= buffer.size();
    if (fits) std::copy_n(inbox_.begin() + static_cast<std::ptrdiff_t>(head_), size, buffer.begin());
    head_ += size;
    if (head_ == inbox_.size()) {
      inbox_.clear();
      head_ = 0;
    }
    if (paused_ && inbox_.size() - head_ < kPauseAbove / 2) {
      paused_ = false;
      io_.resume_receive();
    }
    if (!fits) return std::unexpected(make_error_code(errc::message_truncated));
    return size;
  }

 private:
  static constexpr std::size_t kPauseAbove = 4u << 20;

  LoopEnd(std::unique_ptr<event::EventLoop> loop, Fd fd, BenchKind kind, std::chrono::milliseconds timeout)
      : loop_(std::move(loop)), fd_(std::move(fd)), kind_(kind), timeout_(timeout) {}

  Status turn() { return loop_->run_once(std::chrono::milliseconds(100)); }

  bool has_message(std::size_t wanted) const {
    return is_message(kind_) ? !lengths_.empty() : inbox_.size() - head_ >= wanted;
  }

  void on_receive(const Result<std::span<const std::byte>>& r) {
    if (!r) {
      error_ = r.error();
      return;
    }
    // Our messages are never empty, so an empty chunk is the end of stream.
    if (r->empty()) {
      closed_ = true;
      return;
    }
    // Compact before growing: the consumed front is dead weight.
    if (head_ > 0 && head_ >= inbox_.size() / 2) {
      inbox_.erase(inbox_.begin(), inbox_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
    inbox_.insert(inbox_.end(), r->begin(), r->end());
    if (is_message(kind_)) lengths_.push_back(r->size());
    if (!paused_ && inbox_.size() - head_ > kPauseAbove) {
      paused_ = true;
      io_.pause_receive();
    }
  }

  // Destroyed in reverse: the handle first (it borrows the loop and the fd).
  std::unique_ptr<event::EventLoop> loop_;
  Fd fd_;
  event::IoHandle io_;
  BenchKind kind_;
  std::chrono::milliseconds timeout_;
  std::vector<std::byte> inbox_;
  std::size_t head_ = 0;
  std::deque<std::size_t> lengths_;
  std::optional<Result<std::size_t>> send_result_;
  std::error_code error_;
  bool closed_ = false;
  bool paused_ = false;
};

// --- making one -------------------------------------------------------------------------

// The reply timeout on a blocking socket: SO_RCVTIMEO, so an unanswered receive
// costs no extra syscall per message (a deadline would poll first).
template <typename SocketType>
Status apply_timeout(SocketType& socket, std::chrono::milliseconds timeout) {
  if (timeout.count() == 0) return {};
  return socket.set_receive_timeout(timeout);
}

template <typename SocketType>
Result<Fd> prepared(SocketType socket, std::chrono::milliseconds timeout, bool non_blocking) {
  if (auto s = apply_timeout(socket, timeout); !s) return std::unexpected(s.error());
  if (non_blocking) {
    if (auto s = socket.set_non_blocking(true); !s) return std::unexpected(s.error());
  }
  return socket.release();
}

// The descriptor as the sockit socket type of its transport, made ready for `path`.
Result<Fd> prepared_fd(const BenchTransport& t, Fd fd, std::chrono::milliseconds timeout, bool non_blocking) {
  switch (t.kind) {
    case BenchKind::stream: return prepared(StreamSocket(std::move(fd), *t.socket), timeout, non_blocking);
    case BenchKind::datagram: return prepared(DatagramSocket(std::move(fd), *t.socket), timeout, non_blocking);
    case BenchKind::seqpacket: return prepared(SeqPacketSocket(std::move(fd)), timeout, non_blocking);
    default: return fd;
  }
}

}  // namespace

std::string BenchPath::name() const {
  switch (kind) {
    case BenchPathKind::raw: return "raw";
    case BenchPathKind::sockit: return "sockit";
    case BenchPathKind::loop: return "loop/" + backend;
  }
  return "?";
}

std::optional<std::string_view> path_unavailable(const BenchTransport& t, const BenchPath& path) {
  if (t.kind == BenchKind::pipe && path.kind != BenchPathKind::raw) {
    return "sockit has no pipe API (pipes are measured raw)";
  }
  if (t.kind == BenchKind::shm && path.kind != BenchPathKind::sockit) {
    return path.kind == BenchPathKind::raw ? "the ring is sockit's own (its row is the sockit path)"
                                           : "the ring has no event-loop integration (it wakes through eventfds of its own)";
  }
  return std::nullopt;
}

Result<std::unique_ptr<BenchEnd>> make_bench_end(const BenchTransport& t, const BenchPath& path, Fd in, Fd out,
                                                 const BenchEndOptions& options) {
  if (t.kind == BenchKind::shm) {
    StreamSocket control(std::move(in), Transport::unix_stream);
    const auto deadline = Deadline::after(std::chrono::seconds(5));
    auto ring = options.creates_ring ? ShmRing::create(std::move(control), {}, deadline)
                                     : ShmRing::join(std::move(control), deadline);
    if (!ring) return std::unexpected(ring.error());
    return std::make_unique<ShmEnd>(std::move(*ring), options.reply_timeout);
  }
  if (path.kind == BenchPathKind::raw) {
    // Pipes take no socket options: their reader learns of a dead writer from EOF.
    if (t.kind != BenchKind::pipe) {
      auto fd = prepared_fd(t, std::move(in), options.reply_timeout, false);
      if (!fd) return std::unexpected(fd.error());
      in = std::move(*fd);
    }
    return std::make_unique<RawEnd>(std::move(in), std::move(out), t.kind);
  }
  if (path.kind == BenchPathKind::loop) {
    auto fd = prepared_fd(t, std::move(in), std::chrono::milliseconds(0), true);
    if (!fd) return std::unexpected(fd.error());
    return LoopEnd::create(std::move(*fd), t.kind, path.backend, options.reply_timeout);
  }
  auto fd = prepared_fd(t, std::move(in), options.reply_timeout, false);
  if (!fd) return std::unexpected(fd.error());
  switch (t.kind) {
    case BenchKind::stream: return std::make_unique<SocketEnd<StreamSocket>>(StreamSocket(std::move(*fd), *t.socket));
    case BenchKind::datagram:
      return std::make_unique<SocketEnd<DatagramSocket>>(DatagramSocket(std::move(*fd), *t.socket));
    default: return std::make_unique<SocketEnd<SeqPacketSocket>>(SeqPacketSocket(std::move(*fd)));
  }
}

}  // namespace sockit::cli
