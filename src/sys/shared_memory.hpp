// The syscalls behind the shared-memory ring (core/shm_ring): memfd, seals, mmap,
// eventfd and a poll over several descriptors. Same rules as syscalls.hpp: errno is
// read only here, EINTR is retried, every descriptor is created close-on-exec.
#pragma once

#include <poll.h>

#include <cstddef>
#include <cstdint>
#include <span>

#include "sockit/deadline.hpp"
#include "sockit/fd.hpp"
#include "sockit/result.hpp"

namespace sockit::sys {

// An anonymous memory file of `size` bytes (memfd_create with MFD_CLOEXEC and
// MFD_ALLOW_SEALING), zero-filled.
Result<Fd> memory_file(const char* name, std::size_t size);
// Seals a memory file so that nobody (the peer included) can shrink or grow it, or
// change its seals: a mapping of it can then never fault (SIGBUS) past its end.
Status seal_size(int fd);
// Whether the file's size is sealed as seal_size() does, and its size.
Result<bool> size_is_sealed(int fd);
Result<std::size_t> file_size(int fd);

// A shared read-write mapping of a whole file, unmapped on destruction.
class SharedMapping {
 public:
  SharedMapping() = default;
  static Result<SharedMapping> map(int fd, std::size_t size);
  SharedMapping(SharedMapping&& other) noexcept;
  SharedMapping& operator=(SharedMapping&& other) noexcept;
  SharedMapping(const SharedMapping&) = delete;
  SharedMapping& operator=(const SharedMapping&) = delete;
  ~SharedMapping();

  [[nodiscard]] std::byte* data() const noexcept { return data_; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

 private:
  SharedMapping(std::byte* data, std::size_t size) : data_(data), size_(size) {}
  void reset() noexcept;
  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

// A non-blocking eventfd: signal() adds 1 (it becomes readable), drain() reads the
// count back to 0 (EAGAIN, nothing to drain, is not an error).
Result<Fd> event_fd();
Status signal_event(int fd);
void drain_event(int fd);

// poll(2) on several descriptors until one is ready or the deadline; EINTR re-polls
// with the time left. Returns how many are ready; errc::timed_out at the deadline.
Result<int> poll_any(std::span<pollfd> fds, Deadline deadline);

}  // namespace sockit::sys
