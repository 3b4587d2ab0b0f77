#include "sys/shared_memory.hpp"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "sys/error.hpp"

namespace sockit::sys {

namespace {
constexpr int kSizeSeals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
}  // namespace

Result<Fd> memory_file(const char* name, std::size_t size) {
  Fd fd(::memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd) return fail(last_error());
  int rc;
  do {
    rc = ::ftruncate(fd.get(), static_cast<off_t>(size));
  } while (rc < 0 && errno == EINTR);
  if (rc < 0) return fail(last_error());
  return fd;
}

Status seal_size(int fd) {
  if (::fcntl(fd, F_ADD_SEALS, kSizeSeals) < 0) return fail(last_error());
  return {};
}

Result<bool> size_is_sealed(int fd) {
  const int seals = ::fcntl(fd, F_GET_SEALS);
  if (seals < 0) return fail(last_error());  // EINVAL: not a memfd, so nothing is sealed
  return (seals & (F_SEAL_SHRINK | F_SEAL_SEAL)) == (F_SEAL_SHRINK | F_SEAL_SEAL);
}

Result<std::size_t> file_size(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) < 0) return fail(last_error());
  return static_cast<std::size_t>(st.st_size);
}

Result<SharedMapping> SharedMapping::map(int fd, std::size_t size) {
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return fail(last_error());
  return SharedMapping(static_cast<std::byte*>(p), size);
}

SharedMapping::SharedMapping(SharedMapping&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

SharedMapping& SharedMapping::operator=(SharedMapping&& other) noexcept {
  if (this != &other) {
    reset();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

SharedMapping::~SharedMapping() { reset(); }

void SharedMapping::reset() noexcept {
  if (data_ != nullptr) ::munmap(data_, size_);
  data_ = nullptr;
  size_ = 0;
}

Result<Fd> event_fd() {
  Fd fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!fd) return fail(last_error());
  return fd;
}

Status signal_event(int fd) {
  const std::uint64_t one = 1;
  for (;;) {
    if (::write(fd, &one, sizeof one) == static_cast<ssize_t>(sizeof one)) return {};
    if (errno == EINTR) continue;
    // EAGAIN: the counter is at its maximum, so the reader is woken anyway.
    if (errno == EAGAIN) return {};
    return fail(last_error());
  }
}

void drain_event(int fd) {
  std::uint64_t count;
  while (::read(fd, &count, sizeof count) < 0 && errno == EINTR) {
  }
}

Result<int> poll_any(std::span<pollfd> fds, Deadline deadline) {
  for (;;) {
    const int rc = ::poll(fds.data(), fds.size(), deadline.poll_timeout_ms());
    if (rc > 0) return rc;
    if (rc == 0) {
      if (deadline.expired()) return fail(errc::timed_out);
      continue;
    }
    if (errno != EINTR) return fail(last_error());
  }
}

}  // namespace sockit::sys
