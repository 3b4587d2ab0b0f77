// StreamSocket: a connected byte stream (TCP, Unix stream, or one end of a socketpair).
//
// Blocking I/O that cannot be misused:
//  - send_all / recv_exact loop over partial transfers and EINTR and finish by the deadline;
//  - every send uses MSG_NOSIGNAL: a closed peer is an EPIPE error, never SIGPIPE;
//  - the peer closing is a distinct outcome: recv_some returns 0, recv_exact returns
//    errc::end_of_stream (nothing arrived) or errc::unexpected_end_of_stream (part did);
//  - a deadline that expires returns errc::timed_out; whatever was already transferred
//    stays transferred (send_all/recv_exact then leave the stream mid-message, so
//    treat the connection as unusable).
// With Deadline::never() on a blocking socket each call is one plain syscall; with a
// deadline, or on a non-blocking socket, calls wait in poll(2) between attempts.
// recv_some/send_some on a non-blocking socket without a deadline return EAGAIN
// (std::errc::resource_unavailable_try_again) rather than wait: that is what the
// caller asked for by making the socket non-blocking.
//
// Ownership and threads: see Socket. One sender thread and one receiver thread may
// use the same StreamSocket at once (the kernel serialises each direction).
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

#include "sockit/deadline.hpp"
#include "sockit/socket.hpp"
#include "sockit/tcp_options.hpp"

namespace sockit {

class StreamSocket : public Socket, public TcpOptions<StreamSocket> {
 public:
  StreamSocket() = default;
  // Adopts a connected stream socket. `transport` decides how addresses are reported.
  StreamSocket(Fd fd, Transport transport) noexcept : Socket(std::move(fd), transport) {}

  using Socket::native_handle;

  [[nodiscard]] Status send_all(std::span<const std::byte> data, Deadline deadline = {});
  [[nodiscard]] Status send_all(std::string_view text, Deadline deadline = {}) {
    return send_all(std::as_bytes(std::span(text.data(), text.size())), deadline);
  }
  // Fills `buffer` completely or fails (see the header comment for the outcomes).
  [[nodiscard]] Status recv_exact(std::span<std::byte> buffer, Deadline deadline = {});

  // One send; returns how many bytes the kernel took (at least 1 unless `data` is empty).
  [[nodiscard]] Result<std::size_t> send_some(std::span<const std::byte> data, Deadline deadline = {});
  // One receive; returns the bytes read, or 0 when the peer has closed its end.
  // `buffer` must not be empty (0 would be ambiguous): errc::invalid_argument.
  [[nodiscard]] Result<std::size_t> recv_some(std::span<std::byte> buffer, Deadline deadline = {});
  // Like recv_some but leaves the bytes queued (MSG_PEEK).
  [[nodiscard]] Result<std::size_t> peek(std::span<std::byte> buffer, Deadline deadline = {});
};

}  // namespace sockit
