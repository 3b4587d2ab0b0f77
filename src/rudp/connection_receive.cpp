// ConnectionCore, packets in: validation in full before anything takes effect,
// then ACK processing, loss detection (RFC 9002 section 6) and delivery.
#include <algorithm>

#include "rudp/connection_impl.hpp"

namespace sockit::rudp {

void ConnectionCore::Impl::on_datagram(std::span<const std::byte> packet, Instant now) {
  if (state_ == ConnectionState::closed) return;
  auto header = wire::decode_header(packet);
  if (!header || header->destination != local_id_) {
    ++stats_.malformed_packets;
    return;
  }
  const auto body = packet.subspan(wire::kHeaderSize);
  if (header->type == wire::PacketType::challenge) {
    // Only a client still waiting for its handshake uses a cookie.
    auto cookie = wire::decode_challenge(body);
    if (!cookie) {
      ++stats_.malformed_packets;
      return;
    }
    if (state_ != ConnectionState::connecting) {
      ++stats_.duplicate_packets;  // a late or repeated one: the handshake is done
      return;
    }
    cookie_ = *cookie;
    hello_due_ = true;
    return;
  }
  if (header->type != wire::PacketType::data) {
    ++stats_.malformed_packets;
    return;
  }
  on_data_packet(*header, body, packet.size(), now);
}

void ConnectionCore::Impl::on_data_packet(const wire::Header& header, std::span<const std::byte> body,
                                          std::size_t size, Instant now) {
  if (!received_.acceptable(header.packet_number)) {
    ++stats_.duplicate_packets;
    return;
  }
  // Pass 1: decode and check every frame; nothing takes effect yet, so a packet
  // with one bad frame is dropped whole and never half-applied.
  wire::FrameReader reader(body);
  wire::Frame frame;
  std::size_t frames = 0;
  bool eliciting = false;
  bool has_accept = false;
  bool has_close = false;
  std::uint64_t buffer_needed = 0;
  while (reader.next(frame)) {
    ++frames;
    switch (frame.type) {
      case wire::FrameType::ack:
        if (frame.ack_largest >= next_pn_) {  // acknowledges a packet never sent
          ++stats_.malformed_packets;
          return;
        }
        break;
      case wire::FrameType::fragment:
        if (!assembler_.valid(frame)) {
          ++stats_.malformed_packets;
          return;
        }
        // A piece, then perhaps a waiting message and a remembered id.
        buffer_needed += frame.payload.size() + 2 * MessageAssembler::kOverhead;
        break;
      case wire::FrameType::accept:
        has_accept = true;
        break;
      case wire::FrameType::close:
        has_close = true;
        break;
      default:
        break;
    }
    if (frame.type != wire::FrameType::ack) eliciting = true;
  }
  if (reader.malformed() || frames == 0 || (state_ == ConnectionState::connecting && !has_accept)) {
    ++stats_.malformed_packets;
    return;
  }
  // The endpoint-wide reassembly bound: refuse the packet *unacknowledged*, so its
  // sender will send the data again once there is room.
  if (buffer_needed > 0 && budget_.used + buffer_needed > budget_.limit) {
    ++budget_.dropped;
    return;
  }

  // Pass 2: apply.
  const bool in_order = received_.empty() || header.packet_number == received_.largest() + 1;
  const bool newest = received_.empty() || header.packet_number > received_.largest();
  received_.insert(header.packet_number);
  if (newest) largest_received_time_ = now;
  last_received_ = now;
  ++stats_.packets_received;
  stats_.bytes_received += size;
  ack_dirty_ = true;

  wire::FrameReader apply(body);
  while (apply.next(frame)) {
    switch (frame.type) {
      case wire::FrameType::ack:
        on_ack_frame(frame, now);
        break;
      case wire::FrameType::accept:
        if (state_ == ConnectionState::connecting) {
          peer_.id = frame.accept_server_id;
          peer_.max_message = frame.accept_max_message;
          peer_.window = frame.accept_window;
          peer_.max_ack_delay = std::chrono::milliseconds(frame.accept_max_ack_delay_ms);
          peer_max_data_ = frame.accept_window;
          state_ = ConnectionState::established;
          ack_immediate_ = true;  // the ACK of ACCEPT completes the server's handshake
        }
        break;
      case wire::FrameType::max_data:
        peer_max_data_ = std::max(peer_max_data_, frame.max_data);
        break;
      case wire::FrameType::close:
        on_peer_close(frame.close_code, now);
        break;
      case wire::FrameType::fragment:
        if (state_ != ConnectionState::draining && state_ != ConnectionState::closed) {
          received_reliable_ += assembler_.apply(frame);
        }
        break;
      case wire::FrameType::ping:
        break;
    }
    if (state_ == ConnectionState::closed) return;
  }
  if (state_ == ConnectionState::accepting) state_ = ConnectionState::established;
  // A peer that overruns the window it was granted is broken or hostile.
  if (received_reliable_ > advertised_max_data_) {
    finish(make_error_code(errc::protocol_violation));
    return;
  }
  if (eliciting) {
    ack_pending_ = true;
    ++eliciting_unacked_;
    // At once on every second packet, on a gap (the sender learns of loss
    // sooner) and on CLOSE; otherwise within max_ack_delay.
    if (eliciting_unacked_ >= 2 || !in_order || has_close) {
      ack_immediate_ = true;
    } else if (!ack_deadline_) {
      ack_deadline_ = now + config_.max_ack_delay;
    }
  }
}

// CLOSE means "I have nothing more to send, and all I sent was acknowledged",
// like a FIN. The side that receives it first closes too: it flushes what it
// still has queued and sends its own CLOSE. Each side is done when it has the
// peer's CLOSE and the peer has acknowledged its own; it then drains (3 PTO,
// acknowledging a retransmitted CLOSE whose ACK was lost) and closes. No data is
// lost in either direction, whoever closes first or whether both close at once.
void ConnectionCore::Impl::on_peer_close(std::uint16_t code, Instant now) {
  if (peer_closed_ || state_ == ConnectionState::draining || state_ == ConnectionState::closed) return;
  peer_closed_ = true;
  if (code != 0) {
    finish(make_error_code(errc::protocol_violation));
    return;
  }
  if (state_ == ConnectionState::established || state_ == ConnectionState::accepting) {
    error_ = make_error_code(errc::end_of_stream);  // reported when it completes
    state_ = ConnectionState::closing;
  }
  maybe_start_close();
  if (close_acked_) enter_draining(now);
}

void ConnectionCore::Impl::enter_draining(Instant now) {
  state_ = ConnectionState::draining;
  drain_deadline_ = now + 3 * pto();
}

void ConnectionCore::Impl::on_ack_frame(const wire::Frame& frame, Instant now) {
  bool newly_acked = false;
  std::optional<Instant> largest_sent_time;
  wire::for_each_ack_range(frame, [&](const wire::AckRange& range) {
    auto it = std::lower_bound(sent_.begin(), sent_.end(), range.smallest,
                               [](const SentPacket& p, std::uint32_t pn) { return p.pn < pn; });
    for (; it != sent_.end() && it->pn <= range.largest; ++it) {
      if (it->acked) continue;
      newly_acked = true;
      if (it->pn == frame.ack_largest) largest_sent_time = it->time_sent;
      on_acked(*it);
    }
  });
  if (!largest_acked_ || frame.ack_largest > *largest_acked_) largest_acked_ = frame.ack_largest;
  if (largest_sent_time) {
    rtt_.on_sample(std::chrono::duration_cast<Duration>(now - *largest_sent_time),
                   std::min(frame.ack_delay, peer_.max_ack_delay));
  }
  if (newly_acked) pto_count_ = 0;
  if (close_acked_ && peer_closed_ && state_ == ConnectionState::closing) {
    enter_draining(now);  // the peer has our CLOSE, we have its: nothing is left
    return;
  }
  detect_lost(now);
  forget_old_packets(now);
}

void ConnectionCore::Impl::on_acked(SentPacket& packet) {
  packet.acked = true;
  if (packet.lost) {
    ++stats_.spurious_retransmits;  // its contents went out again for nothing
  } else {
    bytes_in_flight_ -= packet.size;
    cc_.on_acked(packet.size, packet.time_sent);
  }
  if (packet.has_accept) accept_acked_ = true;
  for (std::uint32_t i = 0; i < packet.refs_count; ++i) {
    const FragmentRef& ref = refs_[packet.refs_begin - refs_base_ + i];
    OutMessage* m = find_message(ref);
    if (m == nullptr || fragment_acked(*m, ref.offset)) continue;
    ++m->acked_count;
    if (m->fragments > 1) m->acked[ref.offset / chunk_] = true;
    pop_finished(channels_[ref.channel]);
  }
  if (packet.has_close) close_acked_ = true;
}

void ConnectionCore::Impl::on_lost(const SentPacket& packet) {
  ++stats_.packets_lost;
  bytes_in_flight_ -= packet.size;
  for (std::uint32_t i = 0; i < packet.refs_count; ++i) {
    const FragmentRef& ref = refs_[packet.refs_begin - refs_base_ + i];
    const OutMessage* m = find_message(ref);
    if (m != nullptr && !fragment_acked(*m, ref.offset)) retransmit_.push_back(ref);
  }
  if (packet.has_accept && !accept_acked_) accept_pending_ = true;
  if (packet.has_max_data) max_data_pending_ = true;
  if (packet.has_close && state_ == ConnectionState::closing) close_pending_ = true;
}

// RFC 9002 section 6.1: a packet sent before the largest acknowledged one is lost
// when it is 3 packets older (packet threshold) or older by 9/8 RTT (time
// threshold); otherwise the loss timer is set for when it would be.
void ConnectionCore::Impl::detect_lost(Instant now) {
  loss_time_.reset();
  if (!largest_acked_) return;
  const Duration delay = rtt_.loss_delay();
  std::optional<Instant> largest_lost_sent;
  for (SentPacket& p : sent_) {
    if (p.pn > *largest_acked_) break;
    if (p.acked || p.lost) continue;
    if (p.time_sent + delay <= now || *largest_acked_ >= p.pn + 3) {
      p.lost = true;
      on_lost(p);
      largest_lost_sent = p.time_sent;
    } else if (!loss_time_ || p.time_sent + delay < *loss_time_) {
      loss_time_ = p.time_sent + delay;
    }
  }
  if (largest_lost_sent) cc_.on_lost(*largest_lost_sent, now);
}

// Acknowledged packets leave at once; lost ones stay for 3 PTO so that a late
// ACK can still reveal a spurious retransmission.
void ConnectionCore::Impl::forget_old_packets(Instant now) {
  const Duration keep_lost = 3 * pto();
  while (!sent_.empty()) {
    const SentPacket& p = sent_.front();
    if (!p.acked && !(p.lost && p.time_sent + keep_lost <= now)) break;
    const std::uint64_t refs_end = p.refs_begin + p.refs_count;
    while (refs_base_ < refs_end && !refs_.empty()) {
      refs_.pop_front();
      ++refs_base_;
    }
    sent_.pop_front();
  }
}

}  // namespace sockit::rudp
