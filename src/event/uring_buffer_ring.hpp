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
// Incremental consumption (IOU_PBUF_RING_INC, Linux 6.12): where the kernel has
// it, a receive takes only the bytes it needs from the buffer at the ring's head,
// and the next receive (any connection's) continues in the same buffer. Without
// it every receive takes a whole buffer, however few bytes arrive: ten thousand
// connections with a 64-byte message each need ten thousand buffers in one turn,
// and a ring of 256 runs dry, ending multishot receives with ENOBUFS by the
// million (measured: 2.6 million ENOBUFS for 66,000 echoed messages at 10,000
// connections, a fifth of the plain C server's rate). Consumed incrementally, 256
// buffers of 64 KiB hold 262,144 such messages, and the bytes land one after
// another in a few hot buffers instead of on a cold one each. The kernel says
// IORING_CQE_F_BUF_MORE while it still holds the buffer; the offset of each piece
// is tracked here, since the CQE names only the buffer.
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
  // `incremental`: ask for incremental consumption, and fall back to whole buffers
  // if the kernel refuses it (incremental() tells which).
  static Result<std::unique_ptr<BufferRing>> create(io_uring& ring, std::uint16_t group, unsigned count,
                                                    std::size_t size, bool incremental);
  ~BufferRing();
  BufferRing(const BufferRing&) = delete;
  BufferRing& operator=(const BufferRing&) = delete;

  [[nodiscard]] std::uint16_t group() const noexcept { return group_; }
  [[nodiscard]] std::size_t buffer_size() const noexcept { return size_; }
  [[nodiscard]] unsigned count() const noexcept { return count_; }
  [[nodiscard]] bool incremental() const noexcept { return incremental_; }

  // The `length` bytes a completion put in buffer `id` (clamped to the buffer).
  [[nodiscard]] std::span<const std::byte> bytes(std::uint16_t id, std::size_t length) const;
  // The caller is done with a completion's bytes: call exactly once per CQE that
  // carried a buffer, in completion order. `kernel_keeps` is the CQE's
  // IORING_CQE_F_BUF_MORE: the next piece of the buffer follows these bytes;
  // otherwise the buffer goes back to the kernel.
  void release(std::uint16_t id, std::size_t length, bool kernel_keeps);

 private:
  BufferRing() = default;
  void recycle(std::uint16_t id);

  io_uring_buf_ring* ring_ = nullptr;  // shared with the kernel
  std::size_t ring_bytes_ = 0;
  std::byte* buffers_ = nullptr;
  std::size_t buffers_bytes_ = 0;
  std::size_t size_ = 0;
  unsigned count_ = 0;
  unsigned mask_ = 0;
  std::uint16_t group_ = 0;
  bool incremental_ = false;
  std::unique_ptr<std::uint32_t[]> offsets_;  // incremental: bytes of each buffer consumed so far
};

}  // namespace sockit::event
