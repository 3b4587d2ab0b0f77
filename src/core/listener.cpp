#include "sockit/listener.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <fstream>

#include "core/bind_retry.hpp"
#include "core/blocking_io.hpp"
#include "core/unix_path.hpp"
#include "sys/syscalls.hpp"

namespace sockit {
namespace {

// The kernel silently caps listen(2)'s backlog at somaxconn; clamp it ourselves
// so backlog() reports the truth.
int clamp_backlog(int requested) {
  int somaxconn = 4096;
  std::ifstream("/proc/sys/net/core/somaxconn") >> somaxconn;
  return std::clamp(requested, 1, std::max(somaxconn, 1));
}

Status apply_tcp_options(int fd, int family, const ListenOptions& options) {
  if (options.reuse_address) {
    if (auto s = sys::set_option(fd, SOL_SOCKET, SO_REUSEADDR, 1); !s) return s;
  }
  if (options.reuse_port) {
    if (auto s = sys::set_option(fd, SOL_SOCKET, SO_REUSEPORT, 1); !s) return s;
  }
  if (family == AF_INET6) {
    if (auto s = sys::set_option(fd, IPPROTO_IPV6, IPV6_V6ONLY, options.v6_only ? 1 : 0); !s) return s;
  }
  return {};
}

}  // namespace

Result<Fd> Listener::accept_fd(Deadline deadline, bool non_blocking) {
  // The listening fd is always non-blocking, so accept never blocks past the
  // deadline even if a connection is reset between poll and accept.
  const int fd = native_handle();
  const int flags = non_blocking ? SOCK_NONBLOCK : 0;
  for (;;) {
    auto conn = sys::accept(fd, nullptr, flags);
    if (conn || !sys::is_would_block(conn.error())) return conn;
    if (auto w = sys::wait_for(fd, POLLIN, deadline); !w) return fail(w.error());
  }
}

Result<StreamSocket> Listener::accept(Deadline deadline) {
  if (transport() == Transport::unix_seqpacket) return fail(errc::wrong_transport);
  auto fd = accept_fd(deadline);
  if (!fd) return fail(fd.error());
  return StreamSocket(std::move(*fd), transport());
}

Result<SeqPacketSocket> Listener::accept_seqpacket(Deadline deadline) {
  if (transport() != Transport::unix_seqpacket) return fail(errc::wrong_transport);
  auto fd = accept_fd(deadline);
  if (!fd) return fail(fd.error());
  return SeqPacketSocket(std::move(*fd));
}

Result<Listener> listen(const Address& address, const ListenOptions& options) {
  if (address.is_datagram()) return fail(errc::wrong_transport);
  auto endpoints = address.resolve(options.family);
  if (!endpoints) return fail(endpoints.error());
  // A listen address names one place; for a host name we take its first address
  // (of options.family).
  const Endpoint& endpoint = endpoints->front();

  auto fd = sys::socket(endpoint.family(), address.socket_type() | SOCK_NONBLOCK);
  if (!fd) return fail(fd.error());

  SocketFile file;
  if (address.is_unix() && !address.is_abstract()) {
    auto bound = detail::bind_unix_path(fd->get(), address, endpoint,
                                        {options.unix_file, options.remove_stale});
    if (!bound) return fail(bound.error());
    file = std::move(*bound);  // from here on, an early return removes the file
  } else {
    if (address.is_inet()) {
      if (auto s = apply_tcp_options(fd->get(), endpoint.family(), options); !s) return fail(s.error());
    }
    if (auto s = detail::bind_retrying_in_use(fd->get(), endpoint, options.bind_retry_for); !s) {
      return fail(s.error());
    }
  }

  const int backlog = clamp_backlog(options.backlog);
  Listener listener(std::move(*fd), address.transport(), backlog, std::move(file));

  if (options.fast_open_queue > 0) {
    if (auto s = listener.set_fast_open(options.fast_open_queue); !s) return fail(s.error());
  }
  if (auto s = sys::listen(listener.native_handle(), backlog); !s) return fail(s.error());
  return listener;
}

}  // namespace sockit
