#include "sys/syscalls.hpp"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "sys/error.hpp"

namespace sockit::sys {
namespace {

// The calls that move bytes go through syscall(2), not glibc's wrappers: those
// are pthread cancellation points, and switching asynchronous cancellation on
// and off around every call cost about 115 instructions per echoed message
// (callgrind, sockit echo on epoll: 12% of its user-space instructions). sockit
// never relies on cancellation (its waits end by deadlines), so its transfers
// are not cancellation points. Same -1/errno convention as the wrappers.
ssize_t raw_recv(int fd, void* data, std::size_t size, int flags) {
  return ::syscall(SYS_recvfrom, fd, data, size, flags, nullptr, nullptr);
}
ssize_t raw_send(int fd, const void* data, std::size_t size, int flags) {
  return ::syscall(SYS_sendto, fd, data, size, flags, nullptr, 0);
}

// Runs a syscall that returns -1/errno, retrying EINTR.
template <typename Call>
auto retry_eintr(Call call) {
  for (;;) {
    auto r = call();
    if (r >= 0 || errno != EINTR) return r;
  }
}

Result<std::size_t> size_or_error(ssize_t n) {
  if (n < 0) return fail(last_error());
  return static_cast<std::size_t>(n);
}

Status status_of(int rc) {
  if (rc < 0) return fail(last_error());
  return {};
}

}  // namespace

Result<Fd> socket(int domain, int type, int protocol) {
  const int fd = ::socket(domain, type | SOCK_CLOEXEC, protocol);
  if (fd < 0) return fail(last_error());
  return Fd(fd);
}

Result<std::pair<Fd, Fd>> socketpair(int type) {
  int fds[2];
  if (::socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, fds) < 0) return fail(last_error());
  return std::pair<Fd, Fd>(Fd(fds[0]), Fd(fds[1]));
}

Status bind(int fd, const Endpoint& endpoint) {
  return status_of(::bind(fd, endpoint.get(), endpoint.length));
}

Status listen(int fd, int backlog) { return status_of(::listen(fd, backlog)); }

Result<Fd> accept(int fd, Endpoint* peer, int flags) {
  Endpoint scratch;
  Endpoint& out = peer != nullptr ? *peer : scratch;
  out.length = sizeof out.storage;
  const int conn = retry_eintr([&] { return ::accept4(fd, out.get(), &out.length, SOCK_CLOEXEC | flags); });
  if (conn < 0) return fail(last_error());
  return Fd(conn);
}

Status connect(int fd, const Endpoint& endpoint) {
  // On a non-blocking socket connect never returns EINTR; on a blocking one an
  // interrupted connect goes on in the background, so retrying would give EALREADY.
  // sockit only connects non-blocking sockets, so a plain call is right.
  return status_of(::connect(fd, endpoint.get(), endpoint.length));
}

Result<std::size_t> send(int fd, const void* data, std::size_t size, int flags) {
  return size_or_error(retry_eintr([&] { return raw_send(fd, data, size, flags | MSG_NOSIGNAL); }));
}

Result<std::size_t> send_to(int fd, const void* data, std::size_t size, int flags, const Endpoint* to) {
  return size_or_error(retry_eintr([&] {
    return ::sendto(fd, data, size, flags | MSG_NOSIGNAL, to != nullptr ? to->get() : nullptr,
                    to != nullptr ? to->length : 0);
  }));
}

Result<std::size_t> recv(int fd, void* data, std::size_t size, int flags) {
  return size_or_error(retry_eintr([&] { return raw_recv(fd, data, size, flags); }));
}

Result<std::size_t> sendmsg(int fd, const msghdr& message, int flags) {
  return size_or_error(retry_eintr([&] { return ::syscall(SYS_sendmsg, fd, &message, flags | MSG_NOSIGNAL); }));
}

Result<std::size_t> read(int fd, void* data, std::size_t size) {
  return size_or_error(retry_eintr([&] { return ::syscall(SYS_read, fd, data, size); }));
}

Result<std::size_t> recvmsg(int fd, msghdr& message, int flags) {
  return size_or_error(retry_eintr([&] { return ::syscall(SYS_recvmsg, fd, &message, flags); }));
}

Result<std::size_t> sendmmsg(int fd, mmsghdr* messages, unsigned count, int flags) {
  return size_or_error(retry_eintr([&] { return ::sendmmsg(fd, messages, count, flags | MSG_NOSIGNAL); }));
}

Result<std::size_t> recvmmsg(int fd, mmsghdr* messages, unsigned count, int flags) {
  return size_or_error(retry_eintr([&] { return ::recvmmsg(fd, messages, count, flags, nullptr); }));
}

Status shutdown(int fd, int how) { return status_of(::shutdown(fd, how)); }

Result<Endpoint> local_endpoint(int fd) {
  Endpoint e;
  e.length = sizeof e.storage;
  if (::getsockname(fd, e.get(), &e.length) < 0) return fail(last_error());
  return e;
}

Result<Endpoint> peer_endpoint(int fd) {
  Endpoint e;
  e.length = sizeof e.storage;
  if (::getpeername(fd, e.get(), &e.length) < 0) return fail(last_error());
  return e;
}

Result<short> wait_for(int fd, short events, Deadline deadline) {
  pollfd p{fd, events, 0};
  for (;;) {
    const int rc = ::poll(&p, 1, deadline.poll_timeout_ms());
    if (rc > 0) return p.revents;
    if (rc == 0) {
      // poll rounds the timeout up to whole ms, so rc == 0 means the deadline has passed
      // unless it is "never" (which cannot time out).
      if (deadline.expired()) return fail(errc::timed_out);
      continue;
    }
    if (errno != EINTR) return fail(last_error());
  }
}

Result<bool> is_non_blocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) return fail(last_error());
  return (flags & O_NONBLOCK) != 0;
}

Status set_non_blocking(int fd, bool on) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) return fail(last_error());
  const int wanted = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
  if (wanted == flags) return {};
  return status_of(::fcntl(fd, F_SETFL, wanted));
}

Status set_option(int fd, int level, int name, const void* value, socklen_t size) {
  return status_of(::setsockopt(fd, level, name, value, size));
}

Status get_option(int fd, int level, int name, void* value, socklen_t* size) {
  return status_of(::getsockopt(fd, level, name, value, size));
}

}  // namespace sockit::sys
