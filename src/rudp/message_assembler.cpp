#include "rudp/message_assembler.hpp"

#include <algorithm>
#include <cassert>

namespace sockit::rudp {

MessageAssembler::MessageAssembler(std::size_t channels, std::uint32_t max_message, std::uint64_t max_unreliable,
                                   ReassemblyBudget& budget)
    : channels_(channels), max_message_(max_message), max_unreliable_(max_unreliable), budget_(budget) {}

MessageAssembler::~MessageAssembler() { budget_.used -= held_; }

// Message ids are 32 bits on the wire; the channel keeps 64. The id nearest to
// `base` in serial arithmetic is the one meant (at most 2^16 are outstanding).
std::int64_t MessageAssembler::unwrap(std::uint64_t base, std::uint32_t id) {
  const auto diff = static_cast<std::int32_t>(id - static_cast<std::uint32_t>(base));
  return static_cast<std::int64_t>(base) + diff;
}

void MessageAssembler::charge(std::uint64_t bytes, bool unreliable) {
  held_ += bytes;
  budget_.used += bytes;
  if (unreliable) unreliable_held_ += bytes;
}

void MessageAssembler::release(std::uint64_t bytes, bool unreliable) {
  assert(held_ >= bytes);
  held_ -= bytes;
  budget_.used -= bytes;
  if (unreliable) unreliable_held_ -= bytes;
}

bool MessageAssembler::valid(const wire::Frame& f) const {
  if (f.channel >= channels_.size() || f.total > max_message_) return false;
  const Channel& ch = channels_[f.channel];
  if (ch.known && ch.mode != f.mode) return false;
  if (is_reliable(f.mode)) {
    const std::int64_t id = unwrap(ch.base, f.message_id);
    if (id >= static_cast<std::int64_t>(ch.base + kMaxAhead)) return false;
  }
  return true;
}

std::uint64_t MessageAssembler::apply(const wire::Frame& f) {
  Channel& ch = channels_[f.channel];
  if (!ch.known) {
    ch.known = true;
    ch.mode = f.mode;
  } else if (ch.mode != f.mode) {
    return 0;
  }
  const bool reliable = is_reliable(ch.mode);
  const std::int64_t signed_id = unwrap(ch.base, f.message_id);
  if (signed_id < 0 || (ch.mode != DeliveryMode::unreliable && signed_id < static_cast<std::int64_t>(ch.base))) {
    if (ch.mode == DeliveryMode::unreliable_sequenced) ++late_dropped_;
    return 0;  // reliable: a duplicate of something delivered
  }
  const auto id = static_cast<std::uint64_t>(signed_id);
  if (ch.mode == DeliveryMode::reliable_ordered && ch.ready.contains(id)) return 0;
  if (ch.mode == DeliveryMode::reliable_unordered && ch.delivered_ahead.contains(id)) return 0;
  if (ch.mode == DeliveryMode::unreliable) {
    ch.base = std::max(ch.base, id + 1);
    // A message this far behind the newest has lost a fragment for good.
    while (!ch.partial.empty() && ch.partial.begin()->first + kUnreliableHorizon < ch.base) {
      drop_partial(ch, ch.partial.begin());
      ++unreliable_dropped_;
    }
  }

  const std::uint64_t size = f.payload.size();
  auto it = ch.partial.find(id);
  if (it == ch.partial.end() && f.offset == 0 && size == f.total) {  // the whole message at once
    if (!reliable && !make_room_unreliable(ch, size + kOverhead, id)) {
      ++unreliable_dropped_;
      return 0;
    }
    complete(ch, f.channel, id, std::vector<std::byte>(f.payload.begin(), f.payload.end()));
    return reliable ? size : 0;
  }
  if (it == ch.partial.end()) {
    it = ch.partial.emplace(id, Partial{}).first;
    it->second.total = f.total;
  }
  Partial& p = it->second;
  // Every fragment of a message states the same total, and fragments never
  // overlap (a retransmission repeats the same offset and length): anything else
  // is ignored rather than trusted.
  if (p.total != f.total) return 0;
  auto pos = std::lower_bound(p.pieces.begin(), p.pieces.end(), f.offset,
                              [](const Piece& piece, std::uint32_t offset) { return piece.offset < offset; });
  if (pos != p.pieces.end() && pos->offset == f.offset) return 0;  // duplicate
  if (pos != p.pieces.begin() && std::prev(pos)->offset + std::prev(pos)->bytes.size() > f.offset) return 0;
  if (pos != p.pieces.end() && f.offset + size > pos->offset) return 0;
  if (!reliable && !make_room_unreliable(ch, size + kOverhead, id)) {
    ++unreliable_dropped_;
    if (p.pieces.empty()) ch.partial.erase(it);
    return 0;
  }
  charge(size + kOverhead, !reliable);
  p.pieces.insert(pos, Piece{f.offset, std::vector<std::byte>(f.payload.begin(), f.payload.end())});
  p.received += size;
  if (p.received == p.total) {
    std::vector<std::byte> data;
    data.reserve(p.total);
    for (const Piece& piece : p.pieces) data.insert(data.end(), piece.bytes.begin(), piece.bytes.end());
    drop_partial(ch, it);
    complete(ch, f.channel, id, std::move(data));
  }
  return reliable ? size : 0;
}

void MessageAssembler::drop_partial(Channel& ch, std::map<std::uint64_t, Partial>::iterator it) {
  const bool unreliable = !is_reliable(ch.mode);
  for (const Piece& piece : it->second.pieces) release(piece.bytes.size() + kOverhead, unreliable);
  ch.partial.erase(it);
}

// Evicts the oldest partial unreliable messages (never `keep_id` of `ch`) until
// `need` more bytes fit under max_unreliable_; false if they cannot.
bool MessageAssembler::make_room_unreliable(Channel& ch, std::uint64_t need, std::uint64_t keep_id) {
  while (unreliable_held_ + need > max_unreliable_) {
    bool evicted = false;
    for (Channel& other : channels_) {
      if (!other.known || is_reliable(other.mode)) continue;
      for (auto it = other.partial.begin(); it != other.partial.end(); ++it) {
        if (&other == &ch && it->first == keep_id) continue;
        drop_partial(other, it);
        ++unreliable_dropped_;
        evicted = true;
        break;
      }
      if (evicted) break;
    }
    if (!evicted) return false;
  }
  return true;
}

void MessageAssembler::complete(Channel& ch, std::uint8_t channel, std::uint64_t id, std::vector<std::byte> data) {
  switch (ch.mode) {
    case DeliveryMode::reliable_ordered:
      if (id != ch.base) {
        charge(data.size() + kOverhead, false);
        ch.ready.emplace(id, std::move(data));
        return;
      }
      to_inbox(ch, channel, std::move(data));
      ++ch.base;
      while (!ch.ready.empty() && ch.ready.begin()->first == ch.base) {
        auto node = ch.ready.extract(ch.ready.begin());
        release(node.mapped().size() + kOverhead, false);
        to_inbox(ch, channel, std::move(node.mapped()));
        ++ch.base;
      }
      return;
    case DeliveryMode::reliable_unordered:
      to_inbox(ch, channel, std::move(data));
      if (id != ch.base) {
        charge(kOverhead, false);  // the id remembered for deduplication
        ch.delivered_ahead.insert(id);
        return;
      }
      ++ch.base;
      while (!ch.delivered_ahead.empty() && *ch.delivered_ahead.begin() == ch.base) {
        ch.delivered_ahead.erase(ch.delivered_ahead.begin());
        release(kOverhead, false);
        ++ch.base;
      }
      return;
    case DeliveryMode::unreliable_sequenced:
      to_inbox(ch, channel, std::move(data));
      ch.base = id + 1;
      // Partial messages older than this one can never be delivered now.
      while (!ch.partial.empty() && ch.partial.begin()->first < ch.base) {
        drop_partial(ch, ch.partial.begin());
        ++late_dropped_;
      }
      return;
    case DeliveryMode::unreliable:
      to_inbox(ch, channel, std::move(data));
      return;
  }
}

void MessageAssembler::to_inbox(Channel& ch, std::uint8_t channel, std::vector<std::byte> data) {
  charge(data.size() + kOverhead, !is_reliable(ch.mode));
  inbox_.push_back(Message{channel, ch.mode, std::move(data)});
  ++delivered_;
}

std::optional<Message> MessageAssembler::pop() {
  if (inbox_.empty()) return std::nullopt;
  Message message = std::move(inbox_.front());
  inbox_.pop_front();
  const bool reliable = is_reliable(message.mode);
  release(message.data.size() + kOverhead, !reliable);
  if (reliable) reliable_consumed_ += message.data.size();
  return message;
}

}  // namespace sockit::rudp
