#include "core/message_io.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "core/blocking_io.hpp"
#include "sys/syscalls.hpp"

namespace sockit::detail {

void normalise_sender(Endpoint& from) noexcept {
  if (from.length != 0) return;
  from.storage.ss_family = AF_UNIX;
  from.length = sizeof(sa_family_t);
}

Result<std::size_t> recv_message(int fd, std::span<std::byte> buffer, Endpoint* from, Deadline deadline) {
  msghdr message{};
  iovec io{buffer.data(), buffer.size()};
  auto got = retry_until(fd, POLLIN, deadline, OnWouldBlock::report, [&](int flags) {
    // Rebuilt on every attempt: the kernel rewrites msg_namelen and msg_flags.
    message = msghdr{};
    message.msg_iov = &io;
    message.msg_iovlen = 1;
    if (from != nullptr) {
      message.msg_name = from->get();
      message.msg_namelen = sizeof from->storage;
    }
    return sys::recvmsg(fd, message, flags | MSG_TRUNC);
  });
  if (!got) return fail(got.error());
  if (from != nullptr) {
    from->length = message.msg_namelen;
    normalise_sender(*from);
  }
  if (was_truncated(*got, buffer.size(), message.msg_flags)) return fail(errc::message_truncated);
  return *got;
}

Result<std::size_t> peek_message_size(int fd, Deadline deadline) {
  // One byte of buffer is enough: with MSG_TRUNC the kernel returns the real
  // length whatever we let it copy, and MSG_PEEK leaves the message queued.
  std::byte scratch{};
  return retry_until(fd, POLLIN, deadline, OnWouldBlock::report,
                     [&](int flags) { return sys::recv(fd, &scratch, 1, flags | MSG_PEEK | MSG_TRUNC); });
}

Status send_message(int fd, std::span<const std::byte> data, const Endpoint* to, Deadline deadline) {
  auto sent = retry_until(fd, POLLOUT, deadline, OnWouldBlock::report,
                          [&](int flags) { return sys::send_to(fd, data.data(), data.size(), flags, to); });
  if (!sent) return fail(sent.error());
  if (*sent != data.size()) return fail(errc::message_truncated);
  return {};
}

}  // namespace sockit::detail
