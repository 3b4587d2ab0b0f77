#include "sockit/stream_socket.hpp"

#include <poll.h>
#include <sys/socket.h>

#include "core/blocking_io.hpp"
#include "sys/syscalls.hpp"

namespace sockit {

Result<std::size_t> StreamSocket::send_some(std::span<const std::byte> data, Deadline deadline) {
  if (data.empty()) return 0;
  const int fd = native_handle();
  return detail::retry_until(fd, POLLOUT, deadline, detail::OnWouldBlock::report,
                             [&](int flags) { return sys::send(fd, data.data(), data.size(), flags); });
}

Result<std::size_t> StreamSocket::recv_some(std::span<std::byte> buffer, Deadline deadline) {
  if (buffer.empty()) return fail(errc::invalid_argument);
  const int fd = native_handle();
  return detail::retry_until(fd, POLLIN, deadline, detail::OnWouldBlock::report,
                             [&](int flags) { return sys::recv(fd, buffer.data(), buffer.size(), flags); });
}

Result<std::size_t> StreamSocket::peek(std::span<std::byte> buffer, Deadline deadline) {
  if (buffer.empty()) return fail(errc::invalid_argument);
  const int fd = native_handle();
  return detail::retry_until(fd, POLLIN, deadline, detail::OnWouldBlock::report, [&](int flags) {
    return sys::recv(fd, buffer.data(), buffer.size(), flags | MSG_PEEK);
  });
}

Status StreamSocket::send_all(std::span<const std::byte> data, Deadline deadline) {
  const int fd = native_handle();
  while (!data.empty()) {
    auto sent = detail::retry_until(fd, POLLOUT, deadline, detail::OnWouldBlock::wait,
                                    [&](int flags) { return sys::send(fd, data.data(), data.size(), flags); });
    if (!sent) return fail(sent.error());
    data = data.subspan(*sent);
  }
  return {};
}

Status StreamSocket::recv_exact(std::span<std::byte> buffer, Deadline deadline) {
  const int fd = native_handle();
  const std::size_t wanted = buffer.size();
  while (!buffer.empty()) {
    // MSG_WAITALL lets a blocking socket fill the buffer in one call; the kernel
    // still returns early on a signal or EOF, which the loop handles.
    auto got = detail::retry_until(fd, POLLIN, deadline, detail::OnWouldBlock::wait, [&](int flags) {
      return sys::recv(fd, buffer.data(), buffer.size(), flags | (flags == 0 ? MSG_WAITALL : 0));
    });
    if (!got) return fail(got.error());
    if (*got == 0) {
      return fail(buffer.size() == wanted ? errc::end_of_stream : errc::unexpected_end_of_stream);
    }
    buffer = buffer.subspan(*got);
  }
  return {};
}

}  // namespace sockit
