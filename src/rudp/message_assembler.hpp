// The receive side of a connection's channels: fragments in, whole messages out,
// in the order each channel's delivery mode asks for (docs/RUDP.md, "Delivery
// modes" and "Fragmentation and reassembly bounds").
//
// Memory follows the bytes that arrived: each fragment is kept as its own piece
// and the message is assembled only when complete, so a fragment claiming a huge
// total costs its own size. Every piece, waiting message and unread message is
// charged (its bytes plus kOverhead) to this connection's count and to the
// endpoint's shared ReassemblyBudget; the connection checks the budget before it
// accepts a packet, the assembler keeps the counts.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "rudp/packet.hpp"
#include "sockit/rudp/config.hpp"
#include "sockit/rudp/connection_core.hpp"

namespace sockit::rudp {

// Shared by all connections of one endpoint.
struct ReassemblyBudget {
  std::uint64_t used = 0;
  std::uint64_t limit = 0;
  std::uint64_t dropped = 0;  // packets refused unacknowledged because `used` would exceed `limit`
};

class MessageAssembler {
 public:
  static constexpr std::uint64_t kOverhead = 64;  // per piece / message held
  // How far beyond the channel's delivery point a reliable message id may be.
  static constexpr std::uint64_t kMaxAhead = 1u << 16;
  // Unreliable: a partial message this many ids older than the newest is dropped.
  static constexpr std::uint64_t kUnreliableHorizon = 64;

  MessageAssembler(std::size_t channels, std::uint32_t max_message, std::uint64_t max_unreliable,
                   ReassemblyBudget& budget);
  ~MessageAssembler();
  MessageAssembler(const MessageAssembler&) = delete;
  MessageAssembler& operator=(const MessageAssembler&) = delete;

  // Is this fragment acceptable at all (channel, mode, size, id window)? Checked
  // for every frame before any frame of the packet is applied.
  bool valid(const wire::Frame& fragment) const;
  // Applies a valid fragment; returns the new (not duplicate) reliable payload bytes.
  std::uint64_t apply(const wire::Frame& fragment);

  std::optional<Message> pop();
  bool has_message() const { return !inbox_.empty(); }

  std::uint64_t held_bytes() const { return held_; }
  std::uint64_t reliable_consumed() const { return reliable_consumed_; }
  std::uint64_t messages_delivered() const { return delivered_; }
  std::uint64_t late_fragments_dropped() const { return late_dropped_; }
  std::uint64_t unreliable_dropped() const { return unreliable_dropped_; }

 private:
  struct Piece {
    std::uint32_t offset;
    std::vector<std::byte> bytes;
  };
  struct Partial {
    std::uint32_t total = 0;
    std::uint64_t received = 0;
    std::vector<Piece> pieces;  // sorted by offset, disjoint
  };
  struct Channel {
    bool known = false;
    DeliveryMode mode = DeliveryMode::reliable_ordered;
    // reliable: every id below is delivered; sequenced: ids below are late;
    // unreliable: one above the highest id seen (for unwrapping only).
    std::uint64_t base = 0;
    std::map<std::uint64_t, Partial> partial;
    std::map<std::uint64_t, std::vector<std::byte>> ready;  // ordered: complete, waiting for earlier
    std::set<std::uint64_t> delivered_ahead;                 // unordered: delivered ids >= base
  };

  static std::int64_t unwrap(std::uint64_t base, std::uint32_t id);
  void charge(std::uint64_t bytes, bool unreliable);
  void release(std::uint64_t bytes, bool unreliable);
  void complete(Channel& ch, std::uint8_t channel, std::uint64_t id, std::vector<std::byte> data);
  void to_inbox(Channel& ch, std::uint8_t channel, std::vector<std::byte> data);
  void drop_partial(Channel& ch, std::map<std::uint64_t, Partial>::iterator it);
  bool make_room_unreliable(Channel& ch, std::uint64_t need, std::uint64_t keep_id);

  std::vector<Channel> channels_;
  std::uint32_t max_message_;
  std::uint64_t max_unreliable_;
  ReassemblyBudget& budget_;
  std::deque<Message> inbox_;
  std::uint64_t held_ = 0;
  std::uint64_t unreliable_held_ = 0;
  std::uint64_t reliable_consumed_ = 0;
  std::uint64_t delivered_ = 0;
  std::uint64_t late_dropped_ = 0;
  std::uint64_t unreliable_dropped_ = 0;
};

}  // namespace sockit::rudp
