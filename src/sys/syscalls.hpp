// Thin wrappers over the socket syscalls: the only code that reads errno.
//
// Every wrapper retries EINTR itself, creates descriptors with SOCK_CLOEXEC, and adds
// MSG_NOSIGNAL to every send, so nothing above this layer can forget to. Blocking
// behaviour is the caller's: these do exactly one successful syscall.
#pragma once

#include <poll.h>
#include <sys/socket.h>

#include <cstddef>

#include "sockit/address.hpp"
#include "sockit/deadline.hpp"
#include "sockit/fd.hpp"
#include "sockit/result.hpp"

namespace sockit::sys {

Result<Fd> socket(int domain, int type, int protocol = 0);  // type gets SOCK_CLOEXEC
Result<std::pair<Fd, Fd>> socketpair(int type);             // AF_UNIX, SOCK_CLOEXEC
Status bind(int fd, const Endpoint& endpoint);
Status listen(int fd, int backlog);
Result<Fd> accept(int fd, Endpoint* peer, int flags);  // accept4 with SOCK_CLOEXEC | flags
// connect(2) once. EINPROGRESS comes back as an error for the caller to wait on.
Status connect(int fd, const Endpoint& endpoint);
Result<std::size_t> send(int fd, const void* data, std::size_t size, int flags);
Result<std::size_t> send_to(int fd, const void* data, std::size_t size, int flags, const Endpoint* to);
Result<std::size_t> recv(int fd, void* data, std::size_t size, int flags);
Result<std::size_t> sendmsg(int fd, const msghdr& message, int flags);
Result<std::size_t> read(int fd, void* data, std::size_t size);  // for eventfd/signalfd/pipes
Result<std::size_t> recvmsg(int fd, msghdr& message, int flags);
Result<std::size_t> sendmmsg(int fd, mmsghdr* messages, unsigned count, int flags);
Result<std::size_t> recvmmsg(int fd, mmsghdr* messages, unsigned count, int flags);
Status shutdown(int fd, int how);
Result<Endpoint> local_endpoint(int fd);
Result<Endpoint> peer_endpoint(int fd);

// poll(2) on one descriptor until `events` or the deadline. EINTR re-polls with
// the time that is left. Returns revents; errc::timed_out when the deadline passes.
Result<short> wait_for(int fd, short events, Deadline deadline);

Result<bool> is_non_blocking(int fd);
Status set_non_blocking(int fd, bool on);

Status set_option(int fd, int level, int name, const void* value, socklen_t size);
Status get_option(int fd, int level, int name, void* value, socklen_t* size);

template <typename T>
Status set_option(int fd, int level, int name, const T& value) {
  return set_option(fd, level, name, &value, static_cast<socklen_t>(sizeof value));
}
template <typename T>
Result<T> get_option(int fd, int level, int name) {
  T value{};
  socklen_t size = sizeof value;
  if (auto s = get_option(fd, level, name, &value, &size); !s) return fail(s.error());
  return value;
}

// Boolean options are ints in the setsockopt ABI (any non-zero is on); writing
// 1/0 keeps the size right and makes the getter's answer exact.
inline Status set_flag(int fd, int level, int name, bool on) { return set_option(fd, level, name, on ? 1 : 0); }
inline Result<bool> get_flag(int fd, int level, int name) {
  auto v = get_option<int>(fd, level, name);
  if (!v) return fail(v.error());
  return *v != 0;
}

}  // namespace sockit::sys
