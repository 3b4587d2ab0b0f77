#include "stdio.hpp"

#include <poll.h>
#include <unistd.h>

#include <cerrno>

namespace sockit::cli {
namespace {
std::error_code last_error() { return {errno, std::system_category()}; }
}  // namespace

Result<std::size_t> read_some(int fd, std::span<std::byte> buffer) {
  for (;;) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno != EINTR) return fail(last_error());
  }
}

Status write_all(int fd, std::span<const std::byte> data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n >= 0) {
      data = data.subspan(static_cast<std::size_t>(n));
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return fail(last_error());
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, -1) < 0 && errno != EINTR) return fail(last_error());
  }
  return {};
}

}  // namespace sockit::cli
