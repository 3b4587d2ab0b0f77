// sockit::Result and sockit's own error codes.
//
// Every fallible call in libsockit returns Result<T> = std::expected<T, std::error_code>.
// OS failures carry std::system_category() codes (compare them with std::errc);
// failures that sockit itself detects carry sockit::errc codes, whose messages are
// written for the person reading a log line, not for the programmer.
//
// Thread safety: everything here is a value type; any thread.
#pragma once

#include <expected>
#include <string>
#include <system_error>

namespace sockit {

template <typename T>
using Result = std::expected<T, std::error_code>;

// Result<void> for calls that produce nothing but may fail.
using Status = Result<void>;

// Errors detected by sockit rather than by the kernel.
enum class errc {
  ok = 0,
  address_invalid = 1,     // the address string is malformed
  address_unknown_scheme,  // no such scheme (tcp://, unix:, ...)
  address_path_too_long,   // longer than sun_path allows (never truncated)
  address_bad_port,        // missing, non-numeric or out of range
  address_bad_host,        // malformed host or IPv6 literal
  address_embedded_nul,    // a NUL byte inside the address
  name_not_resolved,       // getaddrinfo found nothing for the host
  wrong_transport,         // e.g. connect() given a udp:// address
  end_of_stream,           // the peer closed before any byte of the request arrived
  unexpected_end_of_stream,// the peer closed part-way through recv_exact
  message_truncated,       // a datagram/record was larger than the buffer
  control_truncated,       // ancillary data did not fit; arrived fds were closed
  address_in_use,          // a live server owns the Unix socket path
  not_a_socket_file,       // a Unix socket path exists but is another kind of file
  timed_out,               // a sockit deadline expired
  invalid_argument,        // the call's arguments are inconsistent
  frame_too_large,         // reserved for the framing layer
  limit_reached,           // reserved for the server layer
  peer_dead,               // reserved for reliable UDP
  select_fd_limit,         // select cannot watch a descriptor >= FD_SETSIZE
  no_address_of_family,    // the host has no address of the family asked for (IPv4/IPv6)
  ring_corrupt,            // a shared-memory ring's shared state is inconsistent (a faulty or hostile peer)
  malformed_reply,         // a kernel reply (sock_diag netlink) that does not parse
  malformed_packet,        // a reliable-UDP packet that does not parse (dropped and counted)
  protocol_violation,      // a reliable-UDP peer broke the protocol (e.g. overran its flow-control window)
};

const std::error_category& error_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

// Shorthand for returning a failure: `return fail(errc::timed_out);`
inline std::unexpected<std::error_code> fail(std::error_code ec) noexcept {
  return std::unexpected(ec);
}
inline std::unexpected<std::error_code> fail(errc e) noexcept {
  return std::unexpected(make_error_code(e));
}

}  // namespace sockit

template <>
struct std::is_error_code_enum<sockit::errc> : std::true_type {};
