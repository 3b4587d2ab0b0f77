// Big-endian readers and writers over a byte span, for the packet codec. Both are
// bounds-checked: a read past the end sets `failed` and returns 0, a write past
// the end sets `failed` and writes nothing, so a codec can do a sequence of
// operations and test once at the end (no path reads or writes out of bounds).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace sockit::rudp {

class ByteReader {
 public:
  explicit ByteReader(std::span<const std::byte> bytes) : bytes_(bytes) {}

  std::uint8_t u8() { return static_cast<std::uint8_t>(take(1)); }
  std::uint16_t u16() { return static_cast<std::uint16_t>(take(2)); }
  std::uint32_t u32() { return static_cast<std::uint32_t>(take(4)); }
  std::uint64_t u64() { return take(8); }
  std::span<const std::byte> bytes(std::size_t n) {
    if (failed_ || n > remaining()) {
      failed_ = true;
      return {};
    }
    auto out = bytes_.subspan(pos_, n);
    pos_ += n;
    return out;
  }

  std::size_t remaining() const { return bytes_.size() - pos_; }
  std::size_t position() const { return pos_; }
  bool failed() const { return failed_; }

 private:
  std::uint64_t take(std::size_t n) {
    if (failed_ || n > remaining()) {
      failed_ = true;
      return 0;
    }
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<std::uint8_t>(bytes_[pos_ + i]);
    pos_ += n;
    return v;
  }

  std::span<const std::byte> bytes_;
  std::size_t pos_ = 0;
  bool failed_ = false;
};

class ByteWriter {
 public:
  explicit ByteWriter(std::span<std::byte> out) : out_(out) {}

  void u8(std::uint8_t v) { put(v, 1); }
  void u16(std::uint16_t v) { put(v, 2); }
  void u32(std::uint32_t v) { put(v, 4); }
  void u64(std::uint64_t v) { put(v, 8); }
  void bytes(std::span<const std::byte> b) {
    if (failed_ || b.size() > remaining()) {
      failed_ = true;
      return;
    }
    if (!b.empty()) std::memcpy(out_.data() + pos_, b.data(), b.size());
    pos_ += b.size();
  }
  void zeros(std::size_t n) {
    if (failed_ || n > remaining()) {
      failed_ = true;
      return;
    }
    std::memset(out_.data() + pos_, 0, n);
    pos_ += n;
  }

  std::size_t remaining() const { return out_.size() - pos_; }
  std::size_t size() const { return pos_; }
  bool failed() const { return failed_; }

 private:
  void put(std::uint64_t v, std::size_t n) {
    if (failed_ || n > remaining()) {
      failed_ = true;
      return;
    }
    for (std::size_t i = 0; i < n; ++i) {
      out_[pos_ + i] = static_cast<std::byte>(v >> (8 * (n - 1 - i)));
    }
    pos_ += n;
  }

  std::span<std::byte> out_;
  std::size_t pos_ = 0;
  bool failed_ = false;
};

}  // namespace sockit::rudp
