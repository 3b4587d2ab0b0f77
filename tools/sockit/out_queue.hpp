// OutQueue: bytes waiting to be sent on one socket, kept as the chunks they
// arrived in.
//
// Keeping chunks (rather than one flat buffer) is what lets one queue serve every
// transport: a stream sends the front chunk piecemeal (consume), a seqpacket or
// datagram socket sends it whole as one record (pop_front), so record boundaries
// survive the trip through the queue. The cost is one allocation per chunk, which
// is noise next to the syscall that produced it.
//
// A value type; one thread.
#pragma once

#include <cstddef>
#include <deque>
#include <span>
#include <vector>

namespace sockit::cli {

// Stop reading the source while this much is queued for a slow receiver.
inline constexpr std::size_t kHighWaterBytes = 1 << 20;

class OutQueue {
 public:
  void push(std::span<const std::byte> chunk) {
    chunks_.emplace_back(chunk.begin(), chunk.end());
    bytes_ += chunk.size();
  }
  [[nodiscard]] bool empty() const noexcept { return chunks_.empty(); }
  [[nodiscard]] std::size_t bytes() const noexcept { return bytes_; }
  [[nodiscard]] bool above_high_water() const noexcept { return bytes_ > kHighWaterBytes; }

  // The unsent part of the oldest chunk (queue must not be empty).
  [[nodiscard]] std::span<const std::byte> front() const noexcept {
    return std::span(chunks_.front()).subspan(offset_);
  }
  // `n` bytes of the front chunk went out (a stream's partial send).
  void consume(std::size_t n) noexcept {
    offset_ += n;
    bytes_ -= n;
    if (offset_ == chunks_.front().size()) drop_front();
  }
  // The whole front chunk went out (or is dropped).
  void pop_front() noexcept {
    bytes_ -= chunks_.front().size() - offset_;
    drop_front();
  }
  void clear() noexcept {
    chunks_.clear();
    offset_ = bytes_ = 0;
  }

 private:
  void drop_front() noexcept {
    chunks_.pop_front();
    offset_ = 0;
  }

  std::deque<std::vector<std::byte>> chunks_;
  std::size_t offset_ = 0;  // into chunks_.front()
  std::size_t bytes_ = 0;   // unsent bytes in all chunks
};

}  // namespace sockit::cli
