#include "sockit/connect.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <thread>

#include "core/client_source.hpp"
#include "sys/error.hpp"
#include "sys/syscalls.hpp"

namespace sockit {
namespace {

// Waits for a non-blocking connect to finish and reports its outcome (SO_ERROR).
Status finish_connect(int fd, Deadline deadline) {
  if (auto w = sys::wait_for(fd, POLLOUT, deadline); !w) return fail(w.error());
  auto err = sys::get_option<int>(fd, SOL_SOCKET, SO_ERROR);
  if (!err) return fail(err.error());
  if (*err != 0) return fail(sys::error_from_errno(*err));
  return {};
}

bool still_connecting(const std::error_code& ec) {
  return ec == std::errc::operation_in_progress || sys::is_would_block(ec);
}

// Sends the SYN with as much of `data` as the kernel puts in it (TCP Fast Open).
// Returns the bytes that went with the SYN; the rest is for after the handshake.
Result<std::size_t> fast_open_connect(int fd, const Endpoint& endpoint, const std::string& data,
                                      Deadline deadline) {
  auto sent = sys::send_to(fd, data.data(), data.size(), MSG_FASTOPEN, &endpoint);
  std::size_t in_syn = 0;
  if (sent) {
    in_syn = *sent;
  } else if (!still_connecting(sent.error())) {
    return fail(sent.error());
  }
  if (auto s = finish_connect(fd, deadline); !s) return fail(s.error());
  return in_syn;
}

// A non-blocking Unix connect never goes "in progress": it succeeds at once or
// fails with EAGAIN while the server's backlog is full. Retry with a short, growing
// pause until the deadline, the way a blocking connect would wait.
Status connect_unix(int fd, const Endpoint& endpoint, Deadline deadline) {
  auto pause = std::chrono::milliseconds(1);
  for (;;) {
    auto c = sys::connect(fd, endpoint);
    if (c || !sys::is_would_block(c.error())) return c;
    if (deadline.expired()) return fail(errc::timed_out);
    const auto wake = Deadline::Clock::now() + pause;
    const auto until = deadline.when();
    std::this_thread::sleep_until(until ? std::min(wake, *until) : wake);
    pause = std::min(pause * 2, std::chrono::milliseconds(50));
  }
}

// One attempt at one endpoint. Returns a connected, blocking socket.
Result<Fd> connect_endpoint(const Endpoint& endpoint, int type, Deadline deadline,
                            const ConnectOptions& options, bool is_tcp) {
  auto fd = sys::socket(endpoint.family(), type | SOCK_NONBLOCK);
  if (!fd) return fail(fd.error());
  if (auto s = detail::bind_local(fd->get(), endpoint.family(), options); !s) return fail(s.error());
  if (is_tcp && options.no_delay) {
    if (auto s = sys::set_option(fd->get(), IPPROTO_TCP, TCP_NODELAY, 1); !s) return fail(s.error());
  }
  std::size_t already_sent = 0;
  if (is_tcp && !options.fast_open_data.empty()) {
    auto in_syn = fast_open_connect(fd->get(), endpoint, options.fast_open_data, deadline);
    if (!in_syn) return fail(in_syn.error());
    already_sent = *in_syn;
  } else if (endpoint.family() == AF_UNIX) {
    if (auto s = connect_unix(fd->get(), endpoint, deadline); !s) return fail(s.error());
  } else if (auto c = sys::connect(fd->get(), endpoint); !c) {
    if (!still_connecting(c.error())) return fail(c.error());
    if (auto s = finish_connect(fd->get(), deadline); !s) return fail(s.error());
  }
  if (auto s = sys::set_non_blocking(fd->get(), false); !s) return fail(s.error());
  if (already_sent < options.fast_open_data.size()) {
    StreamSocket socket(std::move(*fd), Transport::tcp);
    const std::string& rest = options.fast_open_data;
    if (auto s = socket.send_all(std::string_view(rest).substr(already_sent), deadline); !s) return fail(s.error());
    return socket.release();
  }
  return std::move(*fd);
}

Result<Fd> connect_any(const Address& address, Deadline deadline, const ConnectOptions& options) {
  auto endpoints = detail::client_endpoints(address, options);
  if (!endpoints) return fail(endpoints.error());
  std::error_code last = make_error_code(errc::name_not_resolved);
  for (const Endpoint& endpoint : *endpoints) {
    auto fd = connect_endpoint(endpoint, address.socket_type(), deadline, options,
                               address.transport() == Transport::tcp);
    if (fd) return fd;
    last = fd.error();
    if (last == errc::timed_out) break;  // the deadline covers all attempts
  }
  return fail(last);
}

}  // namespace

Result<StreamSocket> connect(const Address& address, Deadline deadline, const ConnectOptions& options) {
  if (!address.is_stream()) return fail(errc::wrong_transport);
  auto fd = connect_any(address, deadline, options);
  if (!fd) return fail(fd.error());
  return StreamSocket(std::move(*fd), address.transport());
}

Result<SeqPacketSocket> connect_seqpacket(const Address& address, Deadline deadline) {
  if (address.transport() != Transport::unix_seqpacket) return fail(errc::wrong_transport);
  auto fd = connect_any(address, deadline, {});
  if (!fd) return fail(fd.error());
  return SeqPacketSocket(std::move(*fd));
}

}  // namespace sockit
