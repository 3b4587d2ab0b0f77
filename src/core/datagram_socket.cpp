// DatagramSocket: making sockets, and sending and receiving datagrams. The UDP
// options live in datagram_options.cpp; truncation-checked whole-message I/O is
// shared with SeqPacketSocket in message_io.cpp.
#include "sockit/datagram_socket.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <vector>

#include "core/bind_retry.hpp"
#include "core/blocking_io.hpp"
#include "core/client_source.hpp"
#include "core/message_io.hpp"
#include "core/unix_path.hpp"
#include "sys/syscalls.hpp"

namespace sockit {
namespace {

// sendmmsg/recvmmsg take at most UIO_MAXIOV (1024) messages per call and would
// clamp a longer batch silently; clamping here keeps the scratch vectors no
// bigger than what one call can use. Callers loop on the returned count anyway.
constexpr std::size_t kMaxBatch = 1024;

// Creates a socket per endpoint (of `address`, resolved by the caller) and runs
// `use` (bind or connect) on it until one succeeds; the error of the last attempt
// is returned, as connect() does for streams. Datagram bind/connect never block,
// so no deadline is needed.
template <typename Use>
Result<DatagramSocket> first_endpoint_that(const Address& address,
                                           const Result<std::vector<Endpoint>>& endpoints, Use use) {
  if (!endpoints) return fail(endpoints.error());
  std::error_code last = make_error_code(errc::name_not_resolved);
  for (const Endpoint& endpoint : *endpoints) {
    auto fd = sys::socket(endpoint.family(), SOCK_DGRAM);
    if (!fd) {
      last = fd.error();
      continue;
    }
    if (auto s = use(fd->get(), endpoint); !s) {
      last = s.error();
      continue;
    }
    return DatagramSocket(std::move(*fd), address.transport());
  }
  return fail(last);
}

// Linux autobind: a bind that gives only the family assigns a fresh abstract
// name. Without a name, a Unix datagram client's messages arrive with no sender
// and the server has nowhere to send its reply.
Status autobind_unix(int fd) {
  Endpoint unnamed;
  unnamed.storage.ss_family = AF_UNIX;
  unnamed.length = sizeof(sa_family_t);
  return sys::bind(fd, unnamed);
}

}  // namespace

Result<DatagramSocket> DatagramSocket::bind(const Address& address, const DatagramBindOptions& options) {
  if (!address.is_datagram()) return fail(errc::wrong_transport);
  if (address.is_unix() && !address.is_abstract()) {
    auto endpoints = address.resolve(options.family);  // a family is invalid_argument for Unix
    if (!endpoints) return fail(endpoints.error());
    auto fd = sys::socket(AF_UNIX, SOCK_DGRAM);
    if (!fd) return fail(fd.error());
    auto file = detail::bind_unix_path(fd->get(), address, endpoints->front(), {.file = options.unix_file});
    if (!file) return fail(file.error());
    return DatagramSocket(std::move(*fd), address.transport(), std::move(*file));
  }
  const auto endpoints = address.resolve(options.family);
  return first_endpoint_that(address, endpoints, [&](int fd, const Endpoint& endpoint) -> Status {
    if (options.reuse_port && address.transport() == Transport::udp) {
      if (auto s = sys::set_option(fd, SOL_SOCKET, SO_REUSEPORT, 1); !s) return s;
    }
    return detail::bind_retrying_in_use(fd, endpoint, options.bind_retry_for);
  });
}

Result<DatagramSocket> DatagramSocket::connect(const Address& address, const ConnectOptions& options) {
  if (!address.is_datagram()) return fail(errc::wrong_transport);
  if (!options.fast_open_data.empty() || options.no_delay) return fail(errc::invalid_argument);  // TCP only
  const bool is_unix = address.transport() == Transport::unix_dgram;
  // A UDP connect only records the peer (no packet is sent), so "trying each
  // endpoint" skips just the ones the kernel rejects at once, e.g. an IPv6
  // address on a host without an IPv6 route. An unreachable peer shows up later
  // as ECONNREFUSED on send or recv.
  const auto endpoints = detail::client_endpoints(address, options);
  return first_endpoint_that(address, endpoints, [&](int fd, const Endpoint& endpoint) -> Status {
    if (is_unix) {
      if (auto s = autobind_unix(fd); !s) return s;
    }
    if (auto s = detail::bind_local(fd, endpoint.family(), options); !s) return s;
    return sys::connect(fd, endpoint);
  });
}

Result<DatagramSocket> DatagramSocket::open(Transport transport, int family) {
  if (transport == Transport::unix_dgram) {
    family = AF_UNIX;
  } else if (transport != Transport::udp) {
    return fail(errc::wrong_transport);
  } else if (family != AF_INET && family != AF_INET6) {
    return fail(errc::invalid_argument);
  }
  auto fd = sys::socket(family, SOCK_DGRAM);
  if (!fd) return fail(fd.error());
  return DatagramSocket(std::move(*fd), transport);
}

Status DatagramSocket::send(std::span<const std::byte> data, Deadline deadline) {
  return detail::send_message(native_handle(), data, nullptr, deadline);
}

Result<std::size_t> DatagramSocket::recv(std::span<std::byte> buffer, Deadline deadline) {
  return detail::recv_message(native_handle(), buffer, nullptr, deadline);
}

Status DatagramSocket::send_to(std::span<const std::byte> data, const Endpoint& to, Deadline deadline) {
  return detail::send_message(native_handle(), data, &to, deadline);
}

Status DatagramSocket::send_to(std::span<const std::byte> data, const Address& to, Deadline deadline) {
  if (!to.is_datagram()) return fail(errc::wrong_transport);
  auto endpoints = to.resolve();
  if (!endpoints) return fail(endpoints.error());
  if (endpoints->empty()) return fail(errc::name_not_resolved);
  // "First endpoint" means the first one this socket can reach: a name like
  // localhost may resolve to ::1 before 127.0.0.1, and an AF_INET socket cannot
  // send to ::1. The extra getsockopt is noise next to the getaddrinfo above.
  const Endpoint* chosen = &endpoints->front();
  if (auto family = kernel_family()) {
    auto same = std::find_if(endpoints->begin(), endpoints->end(),
                             [&](const Endpoint& e) { return e.family() == *family; });
    if (same != endpoints->end()) chosen = &*same;
  }
  return send_to(data, *chosen, deadline);
}

Result<Datagram> DatagramSocket::recv_from(std::span<std::byte> buffer, Deadline deadline) {
  Endpoint from;
  auto got = detail::recv_message(native_handle(), buffer, &from, deadline);
  if (!got) return fail(got.error());
  return Datagram{*got, Address::from_endpoint(from, transport())};
}

Result<std::size_t> DatagramSocket::next_message_size(Deadline deadline) {
  return detail::peek_message_size(native_handle(), deadline);
}

Result<std::size_t> DatagramSocket::send_batch(std::span<const OutgoingDatagram> datagrams,
                                               Deadline deadline) {
  if (datagrams.empty()) return 0;
  const std::size_t count = std::min(datagrams.size(), kMaxBatch);
  std::vector<mmsghdr> messages(count);
  std::vector<iovec> io(count);
  for (std::size_t i = 0; i < count; ++i) {
    const OutgoingDatagram& d = datagrams[i];
    // The C structs are shared with receiving, hence non-const pointers; sendmmsg
    // only reads through them.
    io[i] = iovec{const_cast<std::byte*>(d.data.data()), d.data.size()};
    msghdr& h = messages[i].msg_hdr;
    h.msg_iov = &io[i];
    h.msg_iovlen = 1;
    if (d.to != nullptr) {
      h.msg_name = const_cast<sockaddr*>(d.to->get());
      h.msg_namelen = d.to->length;
    }
  }
  const int fd = native_handle();
  auto sent = detail::retry_until(fd, POLLOUT, deadline, detail::OnWouldBlock::report, [&](int flags) {
    return sys::sendmmsg(fd, messages.data(), static_cast<unsigned>(count), flags);
  });
  if (!sent) return fail(sent.error());
  for (std::size_t i = 0; i < *sent; ++i) {
    if (messages[i].msg_len != io[i].iov_len) return fail(errc::message_truncated);
  }
  return *sent;
}

Result<std::size_t> DatagramSocket::recv_batch(std::span<DatagramSlot> slots, Deadline deadline) {
  if (slots.empty()) return fail(errc::invalid_argument);  // "at least one" needs a slot
  const std::size_t count = std::min(slots.size(), kMaxBatch);
  std::vector<mmsghdr> messages(count);
  std::vector<iovec> io(count);
  for (std::size_t i = 0; i < count; ++i) {
    io[i] = iovec{slots[i].buffer.data(), slots[i].buffer.size()};
  }
  const int fd = native_handle();
  // MSG_WAITFORONE makes recvmmsg wait for the first datagram only and then take
  // what is already queued, which is exactly "wait for one, then up to N" in one
  // syscall: blocking for the first on the fast path, or polled by retry_until
  // (MSG_DONTWAIT) when there is a deadline. Without it a blocking recvmmsg waits
  // until all N slots are full. MSG_TRUNC makes each msg_len the real length.
  auto got = detail::retry_until(fd, POLLIN, deadline, detail::OnWouldBlock::report, [&](int flags) {
    for (std::size_t i = 0; i < count; ++i) {
      msghdr& h = messages[i].msg_hdr;
      h = msghdr{};
      h.msg_iov = &io[i];
      h.msg_iovlen = 1;
      h.msg_name = slots[i].from.get();
      h.msg_namelen = sizeof slots[i].from.storage;
    }
    return sys::recvmmsg(fd, messages.data(), static_cast<unsigned>(count),
                         flags | MSG_WAITFORONE | MSG_TRUNC);
  });
  if (!got) return fail(got.error());
  for (std::size_t i = 0; i < *got; ++i) {
    DatagramSlot& slot = slots[i];
    const std::size_t real = messages[i].msg_len;
    slot.truncated = detail::was_truncated(real, slot.buffer.size(), messages[i].msg_hdr.msg_flags);
    slot.size = std::min(real, slot.buffer.size());
    slot.from.length = messages[i].msg_hdr.msg_namelen;
    detail::normalise_sender(slot.from);
  }
  return *got;
}

}  // namespace sockit
