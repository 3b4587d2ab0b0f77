#include "rudp/received_packets.hpp"

#include <algorithm>
#include <iterator>

namespace sockit::rudp {

bool ReceivedPackets::acceptable(std::uint32_t pn) const {
  if (pn < floor_) return false;
  if (ranges_.empty()) return pn <= kMaxJump;
  if (pn > largest() && pn - largest() > kMaxJump) return false;
  // Binary search for the first range whose largest >= pn.
  auto it = std::lower_bound(ranges_.begin(), ranges_.end(), pn,
                             [](const wire::AckRange& r, std::uint32_t v) { return r.largest < v; });
  return it == ranges_.end() || it->smallest > pn;
}

void ReceivedPackets::insert(std::uint32_t pn) {
  // The common case: the next number in order.
  if (!ranges_.empty() && ranges_.back().largest + 1 == pn) {
    ranges_.back().largest = pn;
    return;
  }
  auto it = std::lower_bound(ranges_.begin(), ranges_.end(), pn,
                             [](const wire::AckRange& r, std::uint32_t v) { return r.largest < v; });
  // `it` is the first range with largest >= pn (and smallest > pn: not present).
  const bool joins_previous = it != ranges_.begin() && std::prev(it)->largest + 1 == pn;
  const bool joins_next = it != ranges_.end() && it->smallest == pn + 1;
  if (joins_previous && joins_next) {
    std::prev(it)->largest = it->largest;
    ranges_.erase(it);
  } else if (joins_previous) {
    std::prev(it)->largest = pn;
  } else if (joins_next) {
    it->smallest = pn;
  } else {
    ranges_.insert(it, wire::AckRange{pn, pn});
    if (ranges_.size() > kMaxRanges) {
      floor_ = std::uint64_t{ranges_.front().largest} + 1;
      ranges_.erase(ranges_.begin());
    }
  }
}

std::size_t ReceivedPackets::newest(std::span<wire::AckRange> out) const {
  const std::size_t n = std::min(out.size(), ranges_.size());
  for (std::size_t i = 0; i < n; ++i) out[i] = ranges_[ranges_.size() - 1 - i];
  return n;
}

}  // namespace sockit::rudp
