// Ancillary data: SCM_RIGHTS, SCM_CREDENTIALS and SO_PEERCRED.
//
// The receive side is where descriptors can leak, so it is written to make that
// impossible: every descriptor the kernel installed is wrapped in an Fd the moment
// its cmsg is read, before anything can fail, and every failure after that simply
// drops the vector. Control buffers live on the stack (about 1 KiB at most),
// sized for the largest message the kernel allows, so no call allocates for them.
#include "sockit/ancillary.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "core/blocking_io.hpp"
#include "core/control_messages.hpp"
#include "sys/syscalls.hpp"

namespace sockit {
namespace {

constexpr std::size_t kRightsSpace = CMSG_SPACE(sizeof(int) * kMaxFdsPerMessage);
constexpr std::size_t kCredentialsSpace = CMSG_SPACE(sizeof(ucred));

// Storage for a control message, aligned the way CMSG_FIRSTHDR expects.
template <std::size_t N>
struct alignas(cmsghdr) ControlBuffer {
  std::array<std::byte, N> bytes{};
};

// One sendmsg carrying `data` and one cmsg of `payload_size` bytes; `fill`
// writes the payload. Shared by send_fds and send_credentials.
template <typename Fill>
Result<std::size_t> send_with_cmsg(const Socket& socket, std::span<const std::byte> data, int type,
                                   std::size_t payload_size, Deadline deadline, Fill fill) {
  ControlBuffer<kRightsSpace> control;                         // the larger of the two kinds
  iovec io{const_cast<std::byte*>(data.data()), data.size()};  // sendmsg only reads it
  msghdr message{};
  message.msg_iov = &io;
  message.msg_iovlen = 1;
  message.msg_control = control.bytes.data();
  message.msg_controllen = CMSG_SPACE(payload_size);
  cmsghdr* header = CMSG_FIRSTHDR(&message);
  header->cmsg_level = SOL_SOCKET;
  header->cmsg_type = type;
  header->cmsg_len = CMSG_LEN(payload_size);
  fill(CMSG_DATA(header));
  const int fd = socket.native_handle();
  return detail::retry_until(fd, POLLOUT, deadline, detail::OnWouldBlock::report,
                             [&](int flags) { return sys::sendmsg(fd, message, flags); });
}

}  // namespace

Result<std::size_t> send_fds(const Socket& socket, std::span<const std::byte> data, std::span<const int> fds,
                             Deadline deadline) {
  if (fds.empty() || fds.size() > kMaxFdsPerMessage) return fail(errc::invalid_argument);
  // With no data a stream socket drops the ancillary data: refuse rather than
  // "succeed" at sending nothing.
  if (data.empty()) return fail(errc::invalid_argument);
  const std::size_t payload = fds.size() * sizeof(int);
  return send_with_cmsg(socket, data, SCM_RIGHTS, payload, deadline,
                        [&](unsigned char* out) { std::memcpy(out, fds.data(), payload); });
}

Result<ReceivedMessage> recv_fds(const Socket& socket, std::span<std::byte> buffer, std::size_t max_fds,
                                 Deadline deadline) {
  // An empty buffer would make a 0-byte result ambiguous (peer closed or empty message).
  if (buffer.empty()) return fail(errc::invalid_argument);
  max_fds = std::min(max_fds, kMaxFdsPerMessage);
  ControlBuffer<kRightsSpace + kCredentialsSpace> control;
  const std::size_t control_size = (max_fds > 0 ? CMSG_SPACE(sizeof(int) * max_fds) : 0) + kCredentialsSpace;

  ReceivedMessage received;
  detail::ControlContents contents;
  // Reserve room for every descriptor the control buffer could hold, so collecting
  // and adopting them below cannot throw half-way and leave some unowned.
  received.fds.reserve(control_size / sizeof(int));
  contents.fds.reserve(control_size / sizeof(int));

  iovec io{buffer.data(), buffer.size()};
  msghdr message{};
  const int fd = socket.native_handle();
  auto got = detail::retry_until(fd, POLLIN, deadline, detail::OnWouldBlock::report, [&](int flags) {
    message = msghdr{};
    message.msg_iov = &io;
    message.msg_iovlen = 1;
    message.msg_control = control.bytes.data();
    message.msg_controllen = control_size;
    return sys::recvmsg(fd, message, flags | MSG_CMSG_CLOEXEC);
  });
  if (!got) return fail(got.error());
  received.size = *got;

  detail::read_control_messages(message, contents);
  for (int received_fd : contents.fds) received.fds.emplace_back(received_fd);
  received.credentials = contents.credentials;
  // The buffer is sized for max_fds plus one credentials cmsg; when no credentials
  // come, that slack can fit a few more descriptors than asked for. The caller said
  // "up to max_fds", so more is the same failure as MSG_CTRUNC. Returning drops
  // `received`, and with it every Fd: nothing leaks.
  if ((message.msg_flags & MSG_CTRUNC) != 0 || received.fds.size() > max_fds) {
    return fail(errc::control_truncated);
  }
  // A datagram or record cut to fit the buffer is never passed off as whole.
  if ((message.msg_flags & MSG_TRUNC) != 0) return fail(errc::message_truncated);
  return received;
}

Result<std::size_t> send_credentials(const Socket& socket, std::span<const std::byte> data,
                                     Deadline deadline) {
  if (data.empty()) return fail(errc::invalid_argument);  // as send_fds: a stream would drop them
  const ucred own{::getpid(), ::getuid(), ::getgid()};
  return send_with_cmsg(socket, data, SCM_CREDENTIALS, sizeof own, deadline,
                        [&](unsigned char* out) { std::memcpy(out, &own, sizeof own); });
}

Result<Credentials> peer_credentials(const Socket& socket) {
  auto raw = sys::get_option<ucred>(socket.native_handle(), SOL_SOCKET, SO_PEERCRED);
  if (!raw) return fail(raw.error());
  return Credentials{raw->pid, raw->uid, raw->gid};
}

}  // namespace sockit
