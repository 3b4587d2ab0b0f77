// The packet numbers a connection has received, as disjoint ranges: what its ACK
// frames report and how it drops duplicates. Bounded: at most kMaxRanges ranges;
// when loss fragments the set further, the oldest range is forgotten and
// everything below it counts as received-or-too-old (such a packet is dropped
// unacknowledged; if it carried reliable data the sender declares it lost and
// sends the data again in a new packet).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "rudp/packet.hpp"

namespace sockit::rudp {

class ReceivedPackets {
 public:
  static constexpr std::size_t kMaxRanges = 64;
  // A packet number this far above the largest received is refused: no honest
  // sender has that many packets outstanding, and accepting it would make every
  // later ACK name numbers the sender never used.
  static constexpr std::uint32_t kMaxJump = 1u << 16;

  bool empty() const { return ranges_.empty(); }
  std::uint32_t largest() const { return ranges_.back().largest; }

  // Would insert() accept `pn` (new, not below the floor, not too far ahead)?
  bool acceptable(std::uint32_t pn) const;
  // Records `pn` (acceptable(pn) must hold).
  void insert(std::uint32_t pn);

  // Writes the newest ranges, largest first, into `out`; returns how many.
  std::size_t newest(std::span<wire::AckRange> out) const;

 private:
  std::vector<wire::AckRange> ranges_;  // ascending, disjoint, non-adjacent
  std::uint64_t floor_ = 0;             // numbers below this are refused
};

}  // namespace sockit::rudp
