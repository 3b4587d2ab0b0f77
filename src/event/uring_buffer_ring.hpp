// BufferRing: the io_uring engine's provided-buffer ring (internal).
//
// `count` receive buffers of `size` bytes each, registered as one buffer group with
// io_uring_register_buf_ring (liburing 2.3: io_uring_setup_buf_ring is 2.4+). A
// receive that names the group (IOSQE_BUFFER_SELECT) lets the kernel pick a buffer
// when data arrives, so ten thousand idle connections cost no memory; the CQE says
// which buffer (IORING_CQE_F_BUFFER, id in the upper 16 bits of cqe->flags). The
// engine hands the bytes to the callback and then recycle()s the buffer: until then
// the kernel cannot use it, and an empty ring ends a multishot receive with ENOBUFS.
//
// Memory: the ring and the buffers are anonymous mappings, not heap, so a kernel
// write that raced teardown can only fault (EFAULT), never land in reused heap.
// The owner must destroy this after io_uring_queue_exit (the ring's teardown drops
// the registration), and only once no receive is in flight.
//
// Loop thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "sockit/result.hpp"

struct io_uring;
struct io_uring_buf_ring;

namespace sockit::event {

class BufferRing {
 public:
  // `count` buffers (1..32768; the ring itself is rounded up to a power of two).
  static Result<std::unique_ptr<BufferRing>> create(io_uring& ring, std::uint16_t group, unsigned count,
                                                    std::size_t size);
  ~BufferRing();
  BufferRing(const BufferRing&) = delete;
  BufferRing& operator=(const BufferRing&) = delete;

  [[nodiscard]] std::uint16_t group() const noexcept { return group_; }
  [[nodiscard]] std::size_t buffer_size() const noexcept { return size_; }
  [[nodiscard]] unsigned count() const noexcept { return count_; }

  // The first `length` bytes of buffer `id` (clamped to the buffer size).
  [[nodiscard]] std::span<const std::byte> bytes(std::uint16_t id, std::size_t length) const;
  // Gives buffer `id` back to the kernel. Call exactly once per CQE that carried it.
  void recycle(std::uint16_t id);

 private:
  BufferRing() = default;

  io_uring_buf_ring* ring_ = nullptr;  // shared with the kernel
  std::size_t ring_bytes_ = 0;
  std::byte* buffers_ = nullptr;
  std::size_t buffers_bytes_ = 0;
  std::size_t size_ = 0;
  unsigned count_ = 0;
  unsigned mask_ = 0;
  std::uint16_t group_ = 0;
};

}  // namespace sockit::event
