// Buffer: a growable byte queue for connection input and output.
//
// Bytes are appended at the back and consumed from the front; consumed space is
// reclaimed by sliding the live bytes down when that is cheaper than growing
// (muduo's Buffer idea), so a connection that keeps its buffer roughly steady
// never reallocates. An empty Buffer owns no heap memory, which is what keeps an
// idle connection small; shrink_to_fit() gives memory back after a burst.
//
// Thread safety: a value type, one thread at a time.
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <span>
#include <string_view>
#include <utility>

namespace sockit::net {

class Buffer {
 public:
  Buffer() = default;
  // A moved-from Buffer is empty and owns nothing (the defaults would leave its
  // sizes behind without the block).
  Buffer(Buffer&& other) noexcept
      : data_(std::move(other.data_)),
        capacity_(std::exchange(other.capacity_, 0)),
        begin_(std::exchange(other.begin_, 0)),
        end_(std::exchange(other.end_, 0)) {}
  Buffer& operator=(Buffer&& other) noexcept {
    if (this != &other) {
      data_ = std::move(other.data_);
      capacity_ = std::exchange(other.capacity_, 0);
      begin_ = std::exchange(other.begin_, 0);
      end_ = std::exchange(other.end_, 0);
    }
    return *this;
  }

  [[nodiscard]] std::size_t size() const noexcept { return end_ - begin_; }
  [[nodiscard]] bool empty() const noexcept { return begin_ == end_; }
  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
  [[nodiscard]] std::span<const std::byte> readable() const noexcept {
    return {data_.get() + begin_, size()};
  }

  void append(std::span<const std::byte> bytes);
  void append(std::string_view text) { append(std::as_bytes(std::span(text.data(), text.size()))); }
  // Space for at least `n` more bytes at the back; write, then commit(written).
  [[nodiscard]] std::span<std::byte> prepare(std::size_t n);
  void commit(std::size_t n) noexcept { end_ += n; }
  // Drops `n` bytes from the front.
  void consume(std::size_t n) noexcept;
  void clear() noexcept { begin_ = end_ = 0; }
  // Releases the heap block if empty, or trims it to the live bytes.
  void shrink_to_fit();

 private:
  void make_room(std::size_t n);

  std::unique_ptr<std::byte[]> data_;
  std::size_t capacity_ = 0;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

}  // namespace sockit::net
