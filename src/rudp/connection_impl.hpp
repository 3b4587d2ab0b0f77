// The inside of rudp::ConnectionCore. Split over three sources by concern:
// connection_core.cpp (creation, timers, the public wrappers),
// connection_receive.cpp (packets in: validation, ACK processing, loss
// detection), connection_transmit.cpp (packets out: what goes in the next
// datagram, the send queues).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <vector>

#include "rudp/congestion.hpp"
#include "rudp/message_assembler.hpp"
#include "rudp/packet.hpp"
#include "rudp/received_packets.hpp"
#include "rudp/rtt.hpp"
#include "sockit/rudp/connection_core.hpp"

namespace sockit::rudp {

// What a server learned from the client's HELLO.
struct PeerParams {
  std::uint64_t id = 0;
  std::uint32_t max_message = 0;
  std::uint32_t window = 0;
  Duration max_ack_delay{0};
};

class ConnectionCore::Impl {
 public:
  static constexpr Duration kInitialHelloTimeout = std::chrono::seconds(1);
  static constexpr std::uint32_t kMaxPtoBackoff = 10;  // 2^10 x PTO at most

  // Client: starts in `connecting` with a HELLO due.
  Impl(const Config& config, std::uint64_t local_id, ReassemblyBudget& budget, Instant now);
  // Server: starts in `accepting` with ACCEPT due.
  Impl(const Config& config, std::uint64_t local_id, const PeerParams& peer, ReassemblyBudget& budget,
       Instant now);

  // A DATA or CHALLENGE packet whose destination id is ours (already routed).
  void on_datagram(std::span<const std::byte> packet, Instant now);
  // The endpoint saw the client's valid HELLO again: it did not hear ACCEPT.
  void on_repeated_hello();

  Status send(std::span<const std::byte> message, std::uint8_t channel);
  std::optional<Message> receive();
  void close(Instant now);
  std::size_t poll_transmit(Instant now, std::span<std::byte> out);
  void on_timer(Instant now);
  std::optional<Instant> next_timeout() const;

  ConnectionState state() const { return state_; }
  std::error_code error() const { return error_; }
  ConnectionStats stats() const;
  std::uint64_t id() const { return local_id_; }
  std::uint64_t peer_id() const { return peer_.id; }
  std::uint64_t malformed() const { return stats_.malformed_packets; }

  // Set by the owning endpoint: called after send(), receive() and close() from
  // the application, so the endpoint polls this connection again.
  std::function<void()> on_touched;

 private:
  struct SentPacket {
    std::uint32_t pn = 0;
    Instant time_sent{};
    std::uint32_t size = 0;
    bool acked = false;
    bool lost = false;
    bool has_accept = false;
    bool has_max_data = false;
    bool has_close = false;
    std::uint64_t refs_begin = 0;  // index into refs_ (global, see refs_base_)
    std::uint32_t refs_count = 0;
  };
  // A reliable fragment in flight: enough to find it again on ACK or loss.
  struct FragmentRef {
    std::uint8_t channel;
    std::uint64_t message_id;
    std::uint32_t offset;
    std::uint32_t length;
  };
  struct OutMessage {
    std::uint64_t id = 0;
    std::vector<std::byte> data;
    std::uint32_t fragments = 1;
    std::uint32_t next_unsent = 0;   // next fragment to send for the first time
    std::uint32_t acked_count = 0;
    std::vector<bool> acked;         // per fragment, when more than one
  };
  struct SendChannel {
    DeliveryMode mode = DeliveryMode::reliable_ordered;
    std::uint64_t next_id = 0;
    std::deque<OutMessage> queue;  // reliable: until fully acknowledged; unreliable: until sent
    std::size_t first_unsent = 0;  // index in queue of the first message not fully sent
  };

  Impl(const Config& config, std::uint64_t local_id, ReassemblyBudget& budget, Instant now, ConnectionState state);

  // receive side (connection_receive.cpp)
  void on_data_packet(const wire::Header& header, std::span<const std::byte> body, std::size_t size, Instant now);
  void on_ack_frame(const wire::Frame& frame, Instant now);
  void on_acked(SentPacket& packet);
  void on_lost(const SentPacket& packet);
  void detect_lost(Instant now);
  void forget_old_packets(Instant now);
  void on_peer_close(std::uint16_t code, Instant now);
  void enter_draining(Instant now);
  void check_window_update();

  // transmit side (connection_transmit.cpp)
  std::size_t write_hello(Instant now, std::span<std::byte> out);
  bool has_eliciting_to_send();
  void purge_retransmissions();
  bool has_new_data() const;
  bool write_retransmissions(ByteWriter& w);
  bool write_new_fragments(ByteWriter& w);
  bool write_fragment(SendChannel& sc, std::uint8_t channel, OutMessage& m, std::uint32_t index, bool first_time,
                      ByteWriter& w);
  OutMessage* find_message(const FragmentRef& ref);
  bool fragment_acked(const OutMessage& m, std::uint32_t offset) const;
  void pop_finished(SendChannel& sc);
  void maybe_start_close();
  void queue_probe();

  // shared
  void finish(std::error_code error);
  Duration pto() const;
  std::optional<Instant> pto_deadline() const;
  std::optional<Instant> close_linger_deadline() const;

  Config config_;
  std::uint64_t local_id_;
  PeerParams peer_;
  ReassemblyBudget& budget_;
  ConnectionState state_;
  std::error_code error_;
  std::uint32_t chunk_;  // fragment payload size

  // handshake
  std::optional<wire::Cookie> cookie_;
  bool hello_due_ = false;
  Instant hello_deadline_{};
  std::uint32_t hello_count_ = 0;
  bool accept_pending_ = false;
  bool accept_acked_ = false;

  // received packets and acknowledgement
  ReceivedPackets received_;
  Instant largest_received_time_{};
  Instant last_received_;
  bool ack_dirty_ = false;      // received something since the last ACK we sent
  bool ack_pending_ = false;    // an ack-eliciting packet awaits acknowledgement
  bool ack_immediate_ = false;
  std::optional<Instant> ack_deadline_;
  std::uint32_t eliciting_unacked_ = 0;

  // sent packets, loss detection, congestion
  std::uint32_t next_pn_ = 0;
  std::deque<SentPacket> sent_;  // ack-eliciting packets, ascending pn
  std::deque<FragmentRef> refs_;
  std::uint64_t refs_base_ = 0;  // global index of refs_.front()
  std::optional<std::uint32_t> largest_acked_;
  std::optional<Instant> loss_time_;
  Instant last_eliciting_sent_;
  std::uint64_t bytes_in_flight_ = 0;
  std::uint32_t pto_count_ = 0;
  std::uint32_t probes_ = 0;
  bool ping_pending_ = false;
  RttEstimator rtt_;
  NewReno cc_;

  // send queues and flow control
  std::vector<SendChannel> channels_;
  std::deque<FragmentRef> retransmit_;
  std::size_t next_channel_ = 0;  // round-robin start
  std::uint64_t queued_bytes_ = 0;
  std::uint64_t reliable_sent_ = 0;   // new reliable payload bytes put on the wire
  std::uint64_t peer_max_data_ = 0;   // what the peer allows
  bool max_data_pending_ = false;

  // receive side and flow control
  MessageAssembler assembler_;
  std::uint64_t received_reliable_ = 0;  // new reliable payload bytes received
  std::uint64_t advertised_max_data_ = 0;

  // closing
  bool close_pending_ = false;
  bool close_sent_ = false;
  bool close_acked_ = false;
  bool peer_closed_ = false;
  std::optional<Instant> close_first_sent_;
  Instant drain_deadline_{};

  ConnectionStats stats_;
};

}  // namespace sockit::rudp
