#include "sockit/result.hpp"

namespace sockit {
namespace {

class SockitCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "sockit"; }
  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::ok: return "success";
      case errc::address_invalid: return "malformed address";
      case errc::address_unknown_scheme: return "unknown address scheme (expected unix:, unix-abstract:, unix-dgram:, unix-seqpacket:, ipc://, tcp:// or udp://)";
      case errc::address_path_too_long: return "unix socket path too long (at most 107 bytes)";
      case errc::address_bad_port: return "missing or invalid port (0-65535)";
      case errc::address_bad_host: return "malformed host";
      case errc::address_embedded_nul: return "address contains a NUL byte";
      case errc::name_not_resolved: return "host name does not resolve";
      case errc::wrong_transport: return "operation not available for this kind of address";
      case errc::end_of_stream: return "peer closed the connection";
      case errc::unexpected_end_of_stream: return "peer closed the connection in the middle of a message";
      case errc::message_truncated: return "message larger than the receive buffer (truncated)";
      case errc::control_truncated: return "ancillary data truncated (received descriptors were closed)";
      case errc::address_in_use: return "address in use (a live server owns this socket path)";
      case errc::not_a_socket_file: return "path exists and is not a socket (refusing to remove it)";
      case errc::timed_out: return "timed out";
      case errc::invalid_argument: return "invalid argument";
      case errc::frame_too_large: return "frame larger than the configured maximum";
      case errc::limit_reached: return "limit reached";
      case errc::peer_dead: return "peer stopped responding";
      case errc::select_fd_limit: return "too many descriptors for select (fd >= FD_SETSIZE 1024); use poll or epoll";
      case errc::no_address_of_family: return "no address of the requested family (IPv4 or IPv6)";
      case errc::ring_corrupt: return "the shared-memory ring is inconsistent (its peer wrote it wrongly)";
      case errc::malformed_reply: return "malformed reply from the kernel (sock_diag netlink)";
      case errc::malformed_packet: return "malformed reliable-UDP packet";
      case errc::protocol_violation: return "the reliable-UDP peer broke the protocol";
    }
    return "unknown sockit error";
  }
  // Lets `ec == std::errc::timed_out` hold for sockit's own timeout too.
  bool equivalent(int value, const std::error_condition& condition) const noexcept override {
    if (static_cast<errc>(value) == errc::timed_out) return condition == std::errc::timed_out;
    if (static_cast<errc>(value) == errc::address_in_use) return condition == std::errc::address_in_use;
    return default_error_condition(value) == condition;
  }
};

}  // namespace

const std::error_category& error_category() noexcept {
  static const SockitCategory category;
  return category;
}

}  // namespace sockit
