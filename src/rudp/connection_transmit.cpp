// ConnectionCore, packets out: the send queues, and what goes into the next
// datagram. Order within a DATA packet: ACK, ACCEPT, MAX_DATA, CLOSE, lost
// fragments (before any new data: fast retransmit), then new fragments taken
// round-robin over the channels, one fragment at a time, so a bulk channel never
// starves a small-message one. ACK-only packets are never held back by the
// congestion window; everything else is, except probes.
#include <algorithm>
#include <array>

#include "rudp/connection_impl.hpp"

namespace sockit::rudp {
namespace {

std::uint16_t to_ms_ceil(Duration d) {
  return static_cast<std::uint16_t>(std::clamp<std::int64_t>((d.count() + 999) / 1000, 0, 0xffff));
}

}  // namespace

Status ConnectionCore::Impl::send(std::span<const std::byte> message, std::uint8_t channel) {
  if (state_ == ConnectionState::closing || state_ == ConnectionState::draining ||
      state_ == ConnectionState::closed) {
    return fail(error_ ? error_ : make_error_code(errc::end_of_stream));
  }
  if (channel >= channels_.size()) return fail(errc::invalid_argument);
  if (message.size() > std::min(config_.max_message, peer_.max_message)) return fail(errc::frame_too_large);
  if (queued_bytes_ + message.size() > config_.max_send_buffer) return fail(errc::limit_reached);
  SendChannel& sc = channels_[channel];
  // The receiver keeps deduplication state for at most kMaxAhead messages past
  // its delivery point; never have more than that unacknowledged.
  if (is_reliable(sc.mode) && sc.queue.size() >= MessageAssembler::kMaxAhead) return fail(errc::limit_reached);
  OutMessage m;
  m.id = sc.next_id++;
  m.data.assign(message.begin(), message.end());
  m.fragments = std::max<std::uint32_t>(1, static_cast<std::uint32_t>((message.size() + chunk_ - 1) / chunk_));
  if (m.fragments > 1) m.acked.assign(m.fragments, false);
  sc.queue.push_back(std::move(m));
  queued_bytes_ += message.size();
  ++stats_.messages_sent;
  return {};
}

ConnectionCore::Impl::OutMessage* ConnectionCore::Impl::find_message(const FragmentRef& ref) {
  SendChannel& sc = channels_[ref.channel];
  if (sc.queue.empty() || ref.message_id < sc.queue.front().id) return nullptr;
  const std::uint64_t index = ref.message_id - sc.queue.front().id;
  return index < sc.queue.size() ? &sc.queue[index] : nullptr;
}

bool ConnectionCore::Impl::fragment_acked(const OutMessage& m, std::uint32_t offset) const {
  return m.fragments == 1 ? m.acked_count > 0 : static_cast<bool>(m.acked[offset / chunk_]);
}

void ConnectionCore::Impl::pop_finished(SendChannel& sc) {
  while (!sc.queue.empty() && sc.queue.front().acked_count == sc.queue.front().fragments) {
    queued_bytes_ -= sc.queue.front().data.size();
    sc.queue.pop_front();
    if (sc.first_unsent > 0) --sc.first_unsent;
  }
}

void ConnectionCore::Impl::maybe_start_close() {
  if (state_ != ConnectionState::closing || close_sent_) return;
  for (const SendChannel& sc : channels_) {
    if (!sc.queue.empty()) return;  // reliable ones leave the queue only when acknowledged
  }
  close_pending_ = true;
  close_sent_ = true;
}

bool ConnectionCore::Impl::has_new_data() const {
  for (const SendChannel& sc : channels_) {
    if (sc.first_unsent >= sc.queue.size()) continue;
    if (!is_reliable(sc.mode)) return true;
    const OutMessage& m = sc.queue[sc.first_unsent];
    const std::uint64_t offset = std::uint64_t{m.next_unsent} * chunk_;
    const std::uint64_t length = std::min<std::uint64_t>(chunk_, m.data.size() - offset);
    if (reliable_sent_ + length <= peer_max_data_) return true;
  }
  return false;
}

void ConnectionCore::Impl::purge_retransmissions() {
  while (!retransmit_.empty()) {
    const OutMessage* m = find_message(retransmit_.front());
    if (m != nullptr && !fragment_acked(*m, retransmit_.front().offset)) break;
    retransmit_.pop_front();  // acknowledged meanwhile (the loss was spurious)
  }
}

bool ConnectionCore::Impl::has_eliciting_to_send() {
  purge_retransmissions();
  return accept_pending_ || max_data_pending_ || close_pending_ || ping_pending_ || probes_ > 0 ||
         !retransmit_.empty() || has_new_data();
}

bool ConnectionCore::Impl::write_fragment(SendChannel& sc, std::uint8_t channel, OutMessage& m,
                                          std::uint32_t index, bool first_time, ByteWriter& w) {
  const std::uint32_t offset = index * chunk_;
  const auto length = static_cast<std::uint32_t>(std::min<std::uint64_t>(chunk_, m.data.size() - offset));
  if (w.remaining() < wire::kFragmentHeaderSize + length) return false;
  const bool reliable = is_reliable(sc.mode);
  if (first_time && reliable && reliable_sent_ + length > peer_max_data_) return false;
  wire::encode_fragment(sc.mode, channel, static_cast<std::uint32_t>(m.id), offset,
                        static_cast<std::uint32_t>(m.data.size()), std::span(m.data).subspan(offset, length), w);
  if (reliable) {
    refs_.push_back(FragmentRef{channel, m.id, offset, length});
    if (first_time) reliable_sent_ += length;
  }
  return true;
}

bool ConnectionCore::Impl::write_retransmissions(ByteWriter& w) {
  bool wrote = false;
  while (!retransmit_.empty()) {
    const FragmentRef ref = retransmit_.front();
    OutMessage* m = find_message(ref);
    if (m == nullptr || fragment_acked(*m, ref.offset)) {
      retransmit_.pop_front();
      continue;
    }
    if (!write_fragment(channels_[ref.channel], ref.channel, *m, ref.offset / chunk_, false, w)) break;
    retransmit_.pop_front();
    wrote = true;
  }
  return wrote;
}

bool ConnectionCore::Impl::write_new_fragments(ByteWriter& w) {
  bool wrote = false;
  const std::size_t n = channels_.size();
  for (bool progress = true; progress;) {
    progress = false;
    for (std::size_t k = 0; k < n; ++k) {
      const std::size_t c = (next_channel_ + k) % n;
      SendChannel& sc = channels_[c];
      if (sc.first_unsent >= sc.queue.size()) continue;
      OutMessage& m = sc.queue[sc.first_unsent];
      if (!write_fragment(sc, static_cast<std::uint8_t>(c), m, m.next_unsent, true, w)) continue;
      if (++m.next_unsent == m.fragments) {
        ++sc.first_unsent;
        if (!is_reliable(sc.mode)) {  // never retransmitted: done once sent
          queued_bytes_ -= m.data.size();
          sc.queue.pop_front();
          --sc.first_unsent;
        }
      }
      next_channel_ = (c + 1) % n;
      progress = wrote = true;
      break;
    }
  }
  return wrote;
}

// A probe (PTO fired): new or lost data if there is any, else the oldest
// unacknowledged packet's contents again, else a PING. It may exceed the
// congestion window: its job is to get an ACK back.
void ConnectionCore::Impl::queue_probe() {
  probes_ = 1;
  purge_retransmissions();
  if (!retransmit_.empty() || has_new_data() || accept_pending_ || close_pending_) return;
  for (const SentPacket& p : sent_) {
    if (p.acked || p.lost) continue;
    for (std::uint32_t i = 0; i < p.refs_count; ++i) retransmit_.push_back(refs_[p.refs_begin - refs_base_ + i]);
    if (p.has_accept && !accept_acked_) accept_pending_ = true;
    if (p.has_max_data) max_data_pending_ = true;
    if (p.has_close && state_ == ConnectionState::closing) close_pending_ = true;
    break;
  }
  if (retransmit_.empty() && !accept_pending_ && !close_pending_ && !max_data_pending_) ping_pending_ = true;
}

std::size_t ConnectionCore::Impl::write_hello(Instant now, std::span<std::byte> out) {
  wire::Hello hello;
  hello.client_id = local_id_;
  hello.max_message = config_.max_message;
  hello.window = config_.receive_window;
  hello.max_ack_delay_ms = to_ms_ceil(config_.max_ack_delay);
  hello.cookie = cookie_;
  const std::size_t size = wire::encode_hello(hello, config_.max_datagram_size, out);
  hello_due_ = false;
  hello_deadline_ = now + kInitialHelloTimeout * (std::int64_t{1} << std::min<std::uint32_t>(hello_count_, 6));
  ++hello_count_;
  ++stats_.packets_sent;
  stats_.bytes_sent += size;
  return size;
}

std::size_t ConnectionCore::Impl::poll_transmit(Instant now, std::span<std::byte> out) {
  if (state_ == ConnectionState::closed || out.size() < config_.max_datagram_size) return 0;
  out = out.first(config_.max_datagram_size);
  if (state_ == ConnectionState::connecting) return hello_due_ ? write_hello(now, out) : 0;
  maybe_start_close();

  const bool may_elicit = state_ != ConnectionState::draining &&
                          (probes_ > 0 || bytes_in_flight_ + config_.max_datagram_size <= cc_.window());
  const bool elicit = may_elicit && has_eliciting_to_send();
  const bool ack_now = ack_pending_ && (ack_immediate_ || (ack_deadline_ && now >= *ack_deadline_));
  if (!elicit && !ack_now) return 0;

  ByteWriter w(out);
  wire::encode_header(wire::Header{wire::PacketType::data, peer_.id, next_pn_}, w);
  bool wrote_ack = false;
  if (ack_dirty_ && !received_.empty()) {
    // Beside data, at most 4 ranges (what chunk_ reserves room for).
    std::array<wire::AckRange, wire::kMaxAckRanges + 1> ranges;
    const std::size_t n = received_.newest(std::span(ranges).first(elicit ? 4 : ranges.size()));
    wire::encode_ack(std::span(ranges).first(n), std::chrono::duration_cast<Duration>(now - largest_received_time_),
                     w);
    ack_dirty_ = ack_pending_ = ack_immediate_ = false;
    ack_deadline_.reset();
    eliciting_unacked_ = 0;
    wrote_ack = true;
  }

  SentPacket packet;
  packet.pn = next_pn_;
  packet.time_sent = now;
  packet.refs_begin = refs_base_ + refs_.size();
  bool wrote_eliciting = false;
  bool retransmitted = false;
  if (elicit) {
    if (accept_pending_) {
      wire::encode_accept(local_id_, config_.max_message, config_.receive_window, to_ms_ceil(config_.max_ack_delay),
                          w);
      accept_pending_ = false;
      packet.has_accept = wrote_eliciting = true;
    }
    if (max_data_pending_) {
      wire::encode_max_data(advertised_max_data_, w);
      max_data_pending_ = false;
      packet.has_max_data = wrote_eliciting = true;
    }
    if (close_pending_) {
      wire::encode_close(0, w);
      if (!close_first_sent_) close_first_sent_ = now;
      close_pending_ = false;
      packet.has_close = wrote_eliciting = true;
    }
    if (write_retransmissions(w)) retransmitted = wrote_eliciting = true;
    if ((state_ == ConnectionState::established || state_ == ConnectionState::closing) && write_new_fragments(w)) {
      wrote_eliciting = true;
    }
    if (!wrote_eliciting && (ping_pending_ || probes_ > 0)) {
      wire::encode_ping(w);
      wrote_eliciting = true;
    }
  }
  if ((!wrote_eliciting && !wrote_ack) || w.failed()) return 0;

  const std::size_t size = w.size();
  ++stats_.packets_sent;
  stats_.bytes_sent += size;
  if (retransmitted) ++stats_.packets_retransmitted;
  if (wrote_eliciting) {
    packet.size = static_cast<std::uint32_t>(size);
    packet.refs_count = static_cast<std::uint32_t>(refs_base_ + refs_.size() - packet.refs_begin);
    sent_.push_back(packet);
    bytes_in_flight_ += size;
    last_eliciting_sent_ = now;
    ping_pending_ = false;
    if (probes_ > 0) --probes_;
  }
  // Packet numbers are never reused; a connection that has used them all ends.
  if (++next_pn_ == 0xffffffffu) finish(make_error_code(errc::limit_reached));
  return size;
}

}  // namespace sockit::rudp
