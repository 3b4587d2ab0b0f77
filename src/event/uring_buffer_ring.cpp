#include "event/uring_buffer_ring.hpp"

#include <liburing.h>
#include <sys/mman.h>

#include <algorithm>
#include <bit>

#include "sys/error.hpp"

namespace sockit::event {

namespace {

constexpr unsigned kMaxBuffers = 32768;  // the kernel's limit on ring entries

// Kernel UAPI newer than liburing 2.3's headers: io_uring_buf_reg's flags (the
// field liburing 2.3 calls `pad`) and the completion flag that goes with it.
constexpr std::uint16_t kPbufRingIncremental = 2;  // IOU_PBUF_RING_INC (6.12)

void* map_anonymous(std::size_t bytes) {
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

}  // namespace

Result<std::unique_ptr<BufferRing>> BufferRing::create(io_uring& ring, std::uint16_t group, unsigned count,
                                                       std::size_t size, bool incremental) {
  if (count == 0 || count > kMaxBuffers || size == 0 || size > UINT32_MAX)
    return fail(errc::invalid_argument);
  std::unique_ptr<BufferRing> self(new BufferRing());
  self->group_ = group;
  self->count_ = count;
  self->size_ = size;
  // The ring may hold more entries than there are buffers; only `count` are added.
  const unsigned entries = std::bit_ceil(count);
  self->mask_ = static_cast<unsigned>(io_uring_buf_ring_mask(entries));

  // The ring must be page-aligned: mmap gives that (io_uring_setup_buf_ring, 2.4+,
  // would do the same).
  self->ring_bytes_ = entries * sizeof(io_uring_buf);
  void* ring_mem = map_anonymous(self->ring_bytes_);
  if (ring_mem == nullptr) return fail(sys::last_error());
  self->ring_ = static_cast<io_uring_buf_ring*>(ring_mem);
  self->buffers_bytes_ = size * count;
  void* buffer_mem = map_anonymous(self->buffers_bytes_);
  if (buffer_mem == nullptr) return fail(sys::last_error());
  self->buffers_ = static_cast<std::byte*>(buffer_mem);

  io_uring_buf_ring_init(self->ring_);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<std::uintptr_t>(self->ring_);
  reg.ring_entries = entries;
  reg.bgid = group;
  reg.pad = incremental ? kPbufRingIncremental : 0;
  int r = io_uring_register_buf_ring(&ring, &reg, 0);
  if (r == -EINVAL && incremental) {  // a kernel before 6.12: whole buffers
    reg.pad = 0;
    r = io_uring_register_buf_ring(&ring, &reg, 0);
  }
  if (r < 0) return fail(sys::error_from_errno(-r));
  self->incremental_ = reg.pad != 0;
  if (self->incremental_) self->offsets_ = std::make_unique<std::uint32_t[]>(count);

  for (unsigned id = 0; id < count; ++id) {
    io_uring_buf_ring_add(self->ring_, self->buffers_ + std::size_t{id} * size, static_cast<unsigned>(size),
                          static_cast<unsigned short>(id), static_cast<int>(self->mask_),
                          static_cast<int>(id));
  }
  io_uring_buf_ring_advance(self->ring_, static_cast<int>(count));
  return self;
}

BufferRing::~BufferRing() {
  if (buffers_ != nullptr) ::munmap(buffers_, buffers_bytes_);
  if (ring_ != nullptr) ::munmap(ring_, ring_bytes_);
}

std::span<const std::byte> BufferRing::bytes(std::uint16_t id, std::size_t length) const {
  if (id >= count_) return {};
  const std::size_t offset = incremental_ ? offsets_[id] : 0;
  return {buffers_ + std::size_t{id} * size_ + offset, std::min(length, size_ - offset)};
}

void BufferRing::release(std::uint16_t id, std::size_t length, bool kernel_keeps) {
  if (id >= count_) return;
  if (!incremental_) return recycle(id);
  if (kernel_keeps) {
    offsets_[id] = static_cast<std::uint32_t>(std::min(size_, offsets_[id] + length));
    return;
  }
  // The kernel moved past the buffer only if these bytes reached its end; a
  // completion that consumed nothing (it should carry no buffer) proves nothing, and
  // re-adding a buffer the kernel still holds would hand it out twice.
  if (length == 0) return;
  offsets_[id] = 0;
  recycle(id);
}

void BufferRing::recycle(std::uint16_t id) {
  if (id >= count_) return;
  io_uring_buf_ring_add(ring_, buffers_ + std::size_t{id} * size_, static_cast<unsigned>(size_), id,
                        static_cast<int>(mask_), 0);
  io_uring_buf_ring_advance(ring_, 1);
}

}  // namespace sockit::event
