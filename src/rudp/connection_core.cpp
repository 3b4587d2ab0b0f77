// ConnectionCore: creation, timers, closing and the public wrappers. Packets in
// are in connection_receive.cpp, packets out in connection_transmit.cpp.
#include <algorithm>

#include "rudp/connection_impl.hpp"

namespace sockit::rudp {
namespace {

// The fragment payload that fits in a datagram beside the other frames a packet
// may carry with it: an ACK with up to 4 ranges, MAX_DATA and CLOSE. Fixed per
// connection, so fragment boundaries never change between retransmissions.
std::uint32_t chunk_size(std::size_t max_datagram) {
  const std::size_t reserve = wire::ack_frame_size(4) + wire::kMaxDataFrameSize + wire::kCloseFrameSize;
  return static_cast<std::uint32_t>(max_datagram - wire::kHeaderSize - wire::kFragmentHeaderSize - reserve);
}

}  // namespace

ConnectionCore::Impl::Impl(const Config& config, std::uint64_t local_id, ReassemblyBudget& budget, Instant now,
                           ConnectionState state)
    : config_(config),
      local_id_(local_id),
      budget_(budget),
      state_(state),
      chunk_(chunk_size(config.max_datagram_size)),
      last_received_(now),
      last_eliciting_sent_(now),
      cc_(config.max_datagram_size),
      channels_(config.channels.size()),
      assembler_(config.channels.size(), config.max_message, config.max_unreliable_buffer, budget),
      advertised_max_data_(config.receive_window) {
  for (std::size_t c = 0; c < channels_.size(); ++c) channels_[c].mode = config.channels[c];
}

ConnectionCore::Impl::Impl(const Config& config, std::uint64_t local_id, ReassemblyBudget& budget, Instant now)
    : Impl(config, local_id, budget, now, ConnectionState::connecting) {
  hello_due_ = true;
  hello_deadline_ = now;
  // Until ACCEPT says otherwise, assume the peer accepts what we do.
  peer_.max_message = config.max_message;
}

ConnectionCore::Impl::Impl(const Config& config, std::uint64_t local_id, const PeerParams& peer,
                           ReassemblyBudget& budget, Instant now)
    : Impl(config, local_id, budget, now, ConnectionState::accepting) {
  peer_ = peer;
  peer_max_data_ = peer.window;
  accept_pending_ = true;
}

void ConnectionCore::Impl::on_repeated_hello() {
  if (state_ == ConnectionState::accepting && !accept_acked_) accept_pending_ = true;
}

Duration ConnectionCore::Impl::pto() const { return rtt_.pto(peer_.max_ack_delay); }

// Both sides have said CLOSE and everything before our CLOSE was acknowledged;
// only the ACK of the CLOSE itself is missing. If it has not come by the time the
// peer's drain (3 PTO after it got our CLOSE) must be over, it never will (the
// peer is gone, and with it nothing we sent): the close is complete all the
// same. Without this, a lost final ACK would turn a clean close into peer_dead
// after the idle timeout: the two generals' problem, settled as TCP's TIME_WAIT
// settles it, by a bounded wait.
std::optional<Instant> ConnectionCore::Impl::close_linger_deadline() const {
  if (state_ != ConnectionState::closing || !peer_closed_ || !close_first_sent_) return std::nullopt;
  return *close_first_sent_ + 6 * pto();
}

std::optional<Instant> ConnectionCore::Impl::pto_deadline() const {
  if (bytes_in_flight_ == 0) return std::nullopt;
  return last_eliciting_sent_ + pto() * (std::int64_t{1} << std::min(pto_count_, kMaxPtoBackoff));
}

void ConnectionCore::Impl::finish(std::error_code error) {
  if (state_ == ConnectionState::closed) return;
  state_ = ConnectionState::closed;
  error_ = error;
  // Nothing more goes out: forget what was queued and in flight.
  sent_.clear();
  refs_.clear();
  retransmit_.clear();
  for (SendChannel& sc : channels_) {
    sc.queue.clear();
    sc.first_unsent = 0;
  }
  queued_bytes_ = 0;
  bytes_in_flight_ = 0;
  loss_time_.reset();
  ack_pending_ = ack_immediate_ = false;
}

void ConnectionCore::Impl::close(Instant now) {
  switch (state_) {
    case ConnectionState::connecting:
    case ConnectionState::accepting:
      finish({});
      return;
    case ConnectionState::established:
      state_ = ConnectionState::closing;
      maybe_start_close();
      (void)now;
      return;
    default:
      return;
  }
}

std::optional<Message> ConnectionCore::Impl::receive() {
  auto message = assembler_.pop();
  if (message) check_window_update();
  return message;
}

// MAX_DATA goes out when less than half the window is left of the last grant.
void ConnectionCore::Impl::check_window_update() {
  const std::uint64_t consumed = assembler_.reliable_consumed();
  if (advertised_max_data_ - consumed < config_.receive_window / 2) {
    advertised_max_data_ = consumed + config_.receive_window;
    max_data_pending_ = true;
  }
}

void ConnectionCore::Impl::on_timer(Instant now) {
  if (state_ == ConnectionState::closed) return;
  if (now >= last_received_ + config_.idle_timeout) {
    finish(make_error_code(state_ == ConnectionState::connecting ? errc::timed_out : errc::peer_dead));
    return;
  }
  if (state_ == ConnectionState::draining) {
    if (now >= drain_deadline_) finish(error_);
    return;
  }
  if (state_ == ConnectionState::connecting) {
    if (now >= hello_deadline_) hello_due_ = true;
    return;
  }
  if (auto linger = close_linger_deadline(); linger && now >= *linger) {
    finish(error_);  // see close_linger_deadline()
    return;
  }
  if (ack_deadline_ && now >= *ack_deadline_) ack_immediate_ = true;
  if (loss_time_) {
    if (now >= *loss_time_) detect_lost(now);
  } else if (auto deadline = pto_deadline(); deadline && now >= *deadline) {
    ++pto_count_;
    queue_probe();
  }
  if (bytes_in_flight_ == 0 && state_ == ConnectionState::established &&
      now >= last_eliciting_sent_ + config_.keepalive_interval) {
    ping_pending_ = true;
  }
}

std::optional<Instant> ConnectionCore::Impl::next_timeout() const {
  if (state_ == ConnectionState::closed) return std::nullopt;
  Instant t = last_received_ + config_.idle_timeout;
  if (state_ == ConnectionState::draining) return std::min(t, drain_deadline_);
  if (state_ == ConnectionState::connecting) return std::min(t, hello_deadline_);
  if (ack_pending_ && !ack_immediate_ && ack_deadline_) t = std::min(t, *ack_deadline_);
  if (auto linger = close_linger_deadline()) t = std::min(t, *linger);
  if (loss_time_) {
    t = std::min(t, *loss_time_);
  } else if (auto deadline = pto_deadline()) {
    t = std::min(t, *deadline);
  }
  if (bytes_in_flight_ == 0 && state_ == ConnectionState::established && !ping_pending_) {
    t = std::min(t, last_eliciting_sent_ + config_.keepalive_interval);
  }
  return t;
}

ConnectionStats ConnectionCore::Impl::stats() const {
  ConnectionStats s = stats_;
  s.srtt = rtt_.smoothed();
  s.min_rtt = rtt_.min();
  s.rttvar = rtt_.variance();
  s.latest_rtt = rtt_.latest();
  s.cwnd = cc_.window();
  s.bytes_in_flight = bytes_in_flight_;
  s.messages_delivered = assembler_.messages_delivered();
  s.late_fragments_dropped = assembler_.late_fragments_dropped();
  s.messages_dropped_unreliable = assembler_.unreliable_dropped();
  s.reassembly_bytes = assembler_.held_bytes();
  s.pto_count = pto_count_;
  return s;
}

// --- the public wrappers ----------------------------------------------------

ConnectionCore::ConnectionCore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ConnectionCore::~ConnectionCore() = default;
// The calls an application makes on its own (not from the endpoint) tell the
// endpoint, which must then poll this connection for datagrams and re-read its
// deadline.
Status ConnectionCore::send(std::span<const std::byte> message, std::uint8_t channel) {
  auto status = impl_->send(message, channel);
  if (impl_->on_touched) impl_->on_touched();
  return status;
}
std::optional<Message> ConnectionCore::receive() {
  auto message = impl_->receive();
  if (message && impl_->on_touched) impl_->on_touched();
  return message;
}
void ConnectionCore::close(Instant now) {
  impl_->close(now);
  if (impl_->on_touched) impl_->on_touched();
}
std::size_t ConnectionCore::poll_transmit(Instant now, std::span<std::byte> out) {
  return impl_->poll_transmit(now, out);
}
void ConnectionCore::on_timer(Instant now) { impl_->on_timer(now); }
std::optional<Instant> ConnectionCore::next_timeout() const { return impl_->next_timeout(); }
ConnectionState ConnectionCore::state() const { return impl_->state(); }
std::error_code ConnectionCore::error() const { return impl_->error(); }
ConnectionStats ConnectionCore::stats() const { return impl_->stats(); }
std::uint64_t ConnectionCore::id() const { return impl_->id(); }

}  // namespace sockit::rudp
