// Socket: the options every socket has (SOL_SOCKET, plus IPV6_V6ONLY).
//
// Getters report what the kernel holds rather than what was last set, so a caller
// sees the clamped/doubled buffer sizes and can check an option on an adopted fd.
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <climits>

#include "sockit/socket.hpp"
#include "sys/syscalls.hpp"

namespace sockit {
namespace {

using std::chrono::microseconds;
using std::chrono::seconds;

using sys::get_flag;
using sys::set_flag;

// Linux quietly turns a negative timeout into "none" (wait forever), the opposite of
// what a caller asking for a short one meant, so it is refused here instead.
Status set_timeout(int fd, int name, microseconds timeout) {
  if (timeout < microseconds::zero()) return fail(errc::invalid_argument);
  const auto whole = std::chrono::duration_cast<seconds>(timeout);
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(whole.count());
  tv.tv_usec = static_cast<suseconds_t>((timeout - whole).count());
  return sys::set_option(fd, SOL_SOCKET, name, tv);
}

Result<microseconds> get_timeout(int fd, int name) {
  auto tv = sys::get_option<timeval>(fd, SOL_SOCKET, name);
  if (!tv) return fail(tv.error());
  return seconds(tv->tv_sec) + microseconds(tv->tv_usec);
}

}  // namespace

Status Socket::set_reuse_address(bool on) { return set_flag(native_handle(), SOL_SOCKET, SO_REUSEADDR, on); }
Result<bool> Socket::reuse_address() const { return get_flag(native_handle(), SOL_SOCKET, SO_REUSEADDR); }

Status Socket::set_reuse_port(bool on) { return set_flag(native_handle(), SOL_SOCKET, SO_REUSEPORT, on); }
Result<bool> Socket::reuse_port() const { return get_flag(native_handle(), SOL_SOCKET, SO_REUSEPORT); }

// Linux doubles the requested buffer sizes to leave room for its bookkeeping and
// reports the doubled value; the getters pass that through unchanged (socket(7)).
Status Socket::set_receive_buffer_size(int bytes) {
  return sys::set_option(native_handle(), SOL_SOCKET, SO_RCVBUF, bytes);
}
Result<int> Socket::receive_buffer_size() const {
  return sys::get_option<int>(native_handle(), SOL_SOCKET, SO_RCVBUF);
}

Status Socket::set_send_buffer_size(int bytes) {
  return sys::set_option(native_handle(), SOL_SOCKET, SO_SNDBUF, bytes);
}
Result<int> Socket::send_buffer_size() const {
  return sys::get_option<int>(native_handle(), SOL_SOCKET, SO_SNDBUF);
}

Status Socket::set_receive_low_water(int bytes) {
  return sys::set_option(native_handle(), SOL_SOCKET, SO_RCVLOWAT, bytes);
}
Result<int> Socket::receive_low_water() const {
  return sys::get_option<int>(native_handle(), SOL_SOCKET, SO_RCVLOWAT);
}

// Linux answers ENOPROTOOPT; it is passed on rather than hidden, so a caller who
// depends on a send low-water mark learns that it does not have one.
Status Socket::set_send_low_water(int bytes) {
  return sys::set_option(native_handle(), SOL_SOCKET, SO_SNDLOWAT, bytes);
}
Result<int> Socket::send_low_water() const {
  return sys::get_option<int>(native_handle(), SOL_SOCKET, SO_SNDLOWAT);
}

Status Socket::set_receive_timeout(microseconds timeout) {
  return set_timeout(native_handle(), SO_RCVTIMEO, timeout);
}
Result<microseconds> Socket::receive_timeout() const { return get_timeout(native_handle(), SO_RCVTIMEO); }

Status Socket::set_send_timeout(microseconds timeout) {
  return set_timeout(native_handle(), SO_SNDTIMEO, timeout);
}
Result<microseconds> Socket::send_timeout() const { return get_timeout(native_handle(), SO_SNDTIMEO); }

Status Socket::set_linger(std::optional<seconds> linger) {
  ::linger value{};
  if (linger) {
    // l_linger is an int; a silently wrapped value would turn a long linger into an abort.
    if (*linger < seconds::zero() || linger->count() > INT_MAX) return fail(errc::invalid_argument);
    value.l_onoff = 1;
    value.l_linger = static_cast<int>(linger->count());
  }
  return sys::set_option(native_handle(), SOL_SOCKET, SO_LINGER, value);
}

Result<std::optional<seconds>> Socket::linger() const {
  auto value = sys::get_option<::linger>(native_handle(), SOL_SOCKET, SO_LINGER);
  if (!value) return fail(value.error());
  if (value->l_onoff == 0) return std::optional<seconds>{};
  return std::optional<seconds>(seconds(value->l_linger));
}

Status Socket::set_non_blocking(bool on) { return sys::set_non_blocking(native_handle(), on); }
Result<bool> Socket::non_blocking() const { return sys::is_non_blocking(native_handle()); }

Status Socket::set_v6_only(bool on) { return set_flag(native_handle(), IPPROTO_IPV6, IPV6_V6ONLY, on); }
Result<bool> Socket::v6_only() const { return get_flag(native_handle(), IPPROTO_IPV6, IPV6_V6ONLY); }

// An empty error_code means "nothing pending", so callers can test it with `if (ec)`.
Result<std::error_code> Socket::pending_error() const {
  auto err = sys::get_option<int>(native_handle(), SOL_SOCKET, SO_ERROR);
  if (!err) return fail(err.error());
  if (*err == 0) return std::error_code{};
  return std::error_code(*err, std::system_category());
}

Status Socket::set_pass_credentials(bool on) {
  return set_flag(native_handle(), SOL_SOCKET, SO_PASSCRED, on);
}

Result<int> Socket::kernel_socket_type() const {
  return sys::get_option<int>(native_handle(), SOL_SOCKET, SO_TYPE);
}
Result<int> Socket::kernel_family() const {
  return sys::get_option<int>(native_handle(), SOL_SOCKET, SO_DOMAIN);
}

}  // namespace sockit
