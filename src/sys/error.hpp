// The one place errno becomes a std::error_code.
#pragma once

#include <cerrno>
#include <system_error>

namespace sockit::sys {

// errno → error_code. EAGAIN and EWOULDBLOCK are the same value on Linux.
inline std::error_code error_from_errno(int err) noexcept { return {err, std::system_category()}; }
inline std::error_code last_error() noexcept { return error_from_errno(errno); }

inline bool is_would_block(const std::error_code& ec) noexcept {
  return ec == std::errc::resource_unavailable_try_again || ec == std::errc::operation_would_block;
}

}  // namespace sockit::sys
