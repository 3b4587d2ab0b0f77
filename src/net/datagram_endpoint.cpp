#include "sockit/net/datagram_endpoint.hpp"

#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "core/message_io.hpp"
#include "sys/error.hpp"
#include "sys/syscalls.hpp"

namespace sockit::net {
namespace {

using namespace std::chrono_literals;

// sendmmsg/recvmmsg take at most UIO_MAXIOV messages per call.
constexpr unsigned kMaxBatch = 1024;

// An unconnected Unix datagram socket polls writable while the receiver's queue is
// full (poll looks at our own send buffer, sendmsg at the peer's queue), so waiting
// for writability there would spin. After two writable wake-ups in a row that still
// said EAGAIN the queue retries on a timer instead, backing off up to kMaxStallPause.
constexpr unsigned kStallsBeforeTimer = 2;
constexpr auto kMaxStallPause = 20ms;

// Receive errors the endpoint survives: ICMP errors on a connected UDP socket are
// reported by the next receive (and cleared by it); memory pressure passes.
bool survivable_receive_error(const std::error_code& ec) {
  return ec == std::errc::connection_refused || ec == std::errc::host_unreachable ||
         ec == std::errc::network_unreachable || ec == std::errc::connection_reset ||
         ec == std::errc::no_buffer_space || ec == std::errc::not_enough_memory ||
         ec == std::errc::message_size;
}

}  // namespace

DatagramEndpointOptions server_endpoint_options(std::size_t max_datagram_size) {
  DatagramEndpointOptions options;
  const std::size_t receive_budget = options.receive_batch * options.max_datagram_size;
  options.max_datagram_size = std::max<std::size_t>(max_datagram_size, 1);
  options.receive_batch = static_cast<unsigned>(
      std::clamp<std::size_t>(receive_budget / options.max_datagram_size, 1, options.receive_batch));
  options.max_queued_bytes = std::max(options.max_queued_bytes, 2 * options.max_datagram_size);
  options.drop_when_blocked = true;
  return options;
}

// Receive batch memory: one buffer, header, iovec and sender slot per datagram,
// sized by start(). Send batch memory, rebuilt for each sendmmsg.
struct DatagramEndpoint::Batch {
  std::vector<std::byte> receive_memory;
  std::vector<mmsghdr> receive_headers;
  std::vector<iovec> receive_iov;
  std::vector<Endpoint> senders;
  std::vector<mmsghdr> send_headers;
  std::vector<iovec> send_iov;
};

Result<std::shared_ptr<DatagramEndpoint>> DatagramEndpoint::create(event::EventLoop& loop,
                                                                   DatagramSocket socket,
                                                                   DatagramEndpointOptions options) {
  if (!socket.is_open()) return fail(errc::invalid_argument);
  if (socket.transport() != Transport::udp && socket.transport() != Transport::unix_dgram) {
    return fail(errc::wrong_transport);
  }
  if (auto s = socket.set_non_blocking(true); !s) return fail(s.error());
  options.receive_batch = std::clamp(options.receive_batch, 1u, kMaxBatch);
  options.send_batch = std::clamp(options.send_batch, 1u, kMaxBatch);
  options.max_batches_per_wakeup = std::max(options.max_batches_per_wakeup, 1u);
  options.max_datagram_size = std::max<std::size_t>(options.max_datagram_size, 1);
  std::shared_ptr<DatagramEndpoint> e(new DatagramEndpoint(loop, std::move(socket), options));
  auto io = loop.watch(e->socket_.native_handle());
  if (!io) return fail(io.error());
  e->io_ = std::move(*io);
  return e;
}

DatagramEndpoint::DatagramEndpoint(event::EventLoop& loop, DatagramSocket socket,
                                   DatagramEndpointOptions options)
    : loop_(loop), socket_(std::move(socket)), options_(options), batch_(std::make_unique<Batch>()) {
  if (auto local = sys::local_endpoint(socket_.native_handle())) family_ = local->family();
}

DatagramEndpoint::~DatagramEndpoint() {
  io_.reset();  // unregister before the descriptor closes
}

template <typename Fn, typename... Args>
void DatagramEndpoint::call(Fn DatagramEndpoint::*member, Args&&... args) {
  // Moved out while it runs, so a callback that closes the endpoint (which drops
  // every callback) does not destroy the function object it is running in.
  Fn fn = std::move(this->*member);
  if (!fn) return;
  fn(*this, std::forward<Args>(args)...);
  if (open_ && !(this->*member)) this->*member = std::move(fn);
}

// --- receiving -------------------------------------------------------------------------

void DatagramEndpoint::start() {
  if (!open_ || started_) return;
  started_ = true;
  const std::size_t n = options_.receive_batch;
  batch_->receive_memory.resize(n * options_.max_datagram_size);
  batch_->receive_headers.resize(n);
  batch_->receive_iov.resize(n);
  batch_->senders.resize(n);
  arm_receive();
}

void DatagramEndpoint::arm_receive() {
  // The IoHandle is a member and cancels its callbacks when destroyed: `this`
  // cannot dangle. handle_readable() holds a shared_ptr while it runs.
  io_.wait_readable([this](Status) { handle_readable(); });  // recvmmsg tells the real story
}

void DatagramEndpoint::handle_readable() {
  auto self = shared_from_this();
  draining_ = true;
  const unsigned n = options_.receive_batch;
  const std::size_t size = options_.max_datagram_size;
  Batch& b = *batch_;
  for (unsigned batch = 0; batch < options_.max_batches_per_wakeup && open_; ++batch) {
    // Rebuilt for every call: the kernel rewrites msg_namelen, msg_flags and msg_len.
    for (unsigned i = 0; i < n; ++i) {
      b.receive_iov[i] = iovec{b.receive_memory.data() + i * size, size};
      msghdr& h = b.receive_headers[i].msg_hdr;
      h = msghdr{};
      h.msg_iov = &b.receive_iov[i];
      h.msg_iovlen = 1;
      h.msg_name = b.senders[i].get();
      h.msg_namelen = sizeof b.senders[i].storage;
      b.receive_headers[i].msg_len = 0;
    }
    // MSG_TRUNC: each msg_len is the datagram's real length, so a cut one is seen.
    auto got = sys::recvmmsg(socket_.native_handle(), b.receive_headers.data(), n, MSG_DONTWAIT | MSG_TRUNC);
    ++stats_.receive_calls;
    if (!got) {
      if (sys::is_would_block(got.error())) break;
      if (!survivable_receive_error(got.error())) {
        finish(got.error());
        break;
      }
      call(&DatagramEndpoint::on_error_, got.error());
      continue;
    }
    for (std::size_t i = 0; i < *got && open_; ++i) deliver(i);
    // A short batch means the queue was (very likely) empty; if not, the loop says
    // so again (edge-triggered: the engine checks before it trusts the next edge).
    if (*got < n) break;
  }
  draining_ = false;
  if (!open_) return;
  arm_receive();
  if (!queue_.empty() && !waiting_) flush();  // replies made by the callbacks, in batches
}

void DatagramEndpoint::deliver(std::size_t index) {
  const mmsghdr& header = batch_->receive_headers[index];
  const std::size_t size = options_.max_datagram_size;
  Endpoint& from = batch_->senders[index];
  from.length = header.msg_hdr.msg_namelen;
  detail::normalise_sender(from);
  const Address sender = Address::from_endpoint(from, socket_.transport());
  const std::size_t real = header.msg_len;
  if (detail::was_truncated(real, size, header.msg_hdr.msg_flags)) {
    ++stats_.truncated;
    call(&DatagramEndpoint::on_truncated_, real, sender);
    return;
  }
  ++stats_.datagrams_in;
  stats_.bytes_in += real;
  const std::span<const std::byte> data(batch_->receive_memory.data() + index * size, real);
  call(&DatagramEndpoint::on_datagram_, data, sender);
}

// --- sending -----------------------------------------------------------------------------

Status DatagramEndpoint::send_to(std::span<const std::byte> data, const Address& to) {
  if (to.transport() != socket_.transport()) return fail(errc::wrong_transport);
  auto endpoints = to.resolve();
  if (!endpoints) return fail(endpoints.error());
  // A name may resolve to both families; the socket can only use its own.
  const auto same_family =
      std::ranges::find_if(*endpoints, [&](const Endpoint& e) { return e.family() == family_; });
  return enqueue(data, same_family != endpoints->end() ? &*same_family : &endpoints->front());
}

Status DatagramEndpoint::send_to(std::span<const std::byte> data, const Endpoint& to) {
  return enqueue(data, &to);
}

Status DatagramEndpoint::send(std::span<const std::byte> data) { return enqueue(data, nullptr); }

Status DatagramEndpoint::enqueue(std::span<const std::byte> data, const Endpoint* to) {
  if (!open_) return fail(std::make_error_code(std::errc::not_connected));
  if (queue_.size() >= options_.max_queued_datagrams ||
      queued_bytes_ + data.size() > options_.max_queued_bytes) {
    ++stats_.dropped;
    return fail(errc::limit_reached);
  }
  Outgoing& out = queue_.emplace_back();
  out.data.assign(data.begin(), data.end());
  if (to != nullptr) {
    out.to = *to;
    out.has_to = true;
  }
  queued_bytes_ += data.size();
  schedule_flush();
  return {};
}

void DatagramEndpoint::schedule_flush() {
  // Inside a receive drain or a flush the queue is written on the way out; while
  // waiting for writability the wake-up writes it.
  if (draining_ || flushing_ || waiting_ || flush_scheduled_) return;
  flush_scheduled_ = true;
  flush_timer_ = loop_.run_after(0ns, [this] {
    flush_scheduled_ = false;
    auto self = shared_from_this();
    flush();
  });
}

void DatagramEndpoint::flush() {
  if (flush_scheduled_) {
    flush_scheduled_ = false;
    flush_timer_.cancel();
  }
  flushing_ = true;
  Batch& b = *batch_;
  while (open_ && !queue_.empty()) {
    const std::size_t n = std::min<std::size_t>(options_.send_batch, queue_.size());
    b.send_headers.resize(n);
    b.send_iov.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      Outgoing& out = queue_[i];
      b.send_iov[i] = iovec{out.data.data(), out.data.size()};
      msghdr& h = b.send_headers[i].msg_hdr;
      h = msghdr{};
      h.msg_iov = &b.send_iov[i];
      h.msg_iovlen = 1;
      if (out.has_to) {
        h.msg_name = out.to.get();
        h.msg_namelen = out.to.length;
      }
    }
    auto sent =
        sys::sendmmsg(socket_.native_handle(), b.send_headers.data(), static_cast<unsigned>(n), MSG_DONTWAIT);
    ++stats_.send_calls;
    if (!sent || *sent == 0) {
      if (!handle_send_error(sent ? std::make_error_code(std::errc::resource_unavailable_try_again)
                                  : sent.error())) {
        break;
      }
      continue;
    }
    stalls_ = 0;
    for (std::size_t i = 0; i < *sent; ++i) {
      ++stats_.datagrams_out;
      stats_.bytes_out += queue_.front().data.size();
      queued_bytes_ -= queue_.front().data.size();
      queue_.pop_front();
    }
  }
  flushing_ = false;
}

bool DatagramEndpoint::handle_send_error(std::error_code ec) {
  if (sys::is_would_block(ec) && !options_.drop_when_blocked) {
    waiting_ = true;
    const unsigned stalls = stalls_++;
    if (stalls < kStallsBeforeTimer) {
      // Only after EAGAIN, as wait_writable asks (edge-triggered epoll).
      io_.wait_writable([this](Status) {
        waiting_ = false;
        auto self = shared_from_this();
        flush();
      });
    } else {
      const auto pause = std::min<std::chrono::milliseconds>(
          1ms * (1u << std::min(stalls - kStallsBeforeTimer, 5u)), kMaxStallPause);
      flush_timer_ = loop_.run_after(pause, [this] {
        waiting_ = false;
        auto self = shared_from_this();
        flush();
      });
    }
    return false;
  }
  // sendmmsg fails only when its first datagram does: that one is dropped (with
  // drop_when_blocked, also when the kernel would have had us wait for it).
  ++stats_.dropped;
  queued_bytes_ -= queue_.front().data.size();
  queue_.pop_front();
  call(&DatagramEndpoint::on_error_, ec);
  return true;
}

// --- closing -----------------------------------------------------------------------------

void DatagramEndpoint::close() { finish({}); }

void DatagramEndpoint::finish(std::error_code reason) {
  if (!open_) return;
  auto self = shared_from_this();
  open_ = false;
  stats_.dropped += queue_.size();
  queue_.clear();
  queued_bytes_ = 0;
  flush_timer_.cancel();
  io_.reset();
  socket_.close();  // removes a Unix socket file it bound
  // The receive buffers stay: a callback that closed may still read its span.
  if (auto fn = std::move(on_close_)) fn(*this, reason);
  on_datagram_ = nullptr;
  on_truncated_ = nullptr;
  on_error_ = nullptr;
  on_close_ = nullptr;
}

}  // namespace sockit::net
