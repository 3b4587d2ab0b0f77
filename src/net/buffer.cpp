#include "sockit/net/buffer.hpp"

#include <algorithm>

namespace sockit::net {

void Buffer::append(std::span<const std::byte> bytes) {
  if (bytes.empty()) return;
  auto room = prepare(bytes.size());
  std::memcpy(room.data(), bytes.data(), bytes.size());
  commit(bytes.size());
}

std::span<std::byte> Buffer::prepare(std::size_t n) {
  if (capacity_ - end_ < n) make_room(n);
  return {data_.get() + end_, capacity_ - end_};
}

void Buffer::consume(std::size_t n) noexcept {
  begin_ += std::min(n, size());
  if (begin_ == end_) begin_ = end_ = 0;  // empty: start over at the front for free
}

void Buffer::make_room(std::size_t n) {
  const std::size_t live = size();
  // Sliding is a memmove of the live bytes; do it when the dead space at the front
  // covers the need and the live part is small next to the block.
  if (capacity_ - live >= n && live <= capacity_ / 2) {
    std::memmove(data_.get(), data_.get() + begin_, live);
    begin_ = 0;
    end_ = live;
    return;
  }
  const std::size_t wanted = std::max({live + n, capacity_ * 2, std::size_t{512}});
  auto block = std::make_unique_for_overwrite<std::byte[]>(wanted);
  if (live > 0) std::memcpy(block.get(), data_.get() + begin_, live);
  data_ = std::move(block);
  capacity_ = wanted;
  begin_ = 0;
  end_ = live;
}

void Buffer::shrink_to_fit() {
  const std::size_t live = size();
  if (live == capacity_) return;
  if (live == 0) {
    data_.reset();
    capacity_ = begin_ = end_ = 0;
    return;
  }
  auto block = std::make_unique_for_overwrite<std::byte[]>(live);
  std::memcpy(block.get(), data_.get() + begin_, live);
  data_ = std::move(block);
  capacity_ = live;
  begin_ = 0;
  end_ = live;
}

}  // namespace sockit::net
