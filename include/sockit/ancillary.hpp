// Ancillary data on Unix sockets: passing descriptors (SCM_RIGHTS) and credentials
// (SO_PEERCRED, SCM_CREDENTIALS).
//
// Received descriptors arrive with MSG_CMSG_CLOEXEC and are owned by the returned
// Fds. If the control buffer was too small (MSG_CTRUNC) the call fails with
// errc::control_truncated and every descriptor that did arrive is closed first:
// nothing leaks, whatever the sender did.
//
// The socket is borrowed for the call. Works on any connected Unix socket
// (stream, seqpacket, datagram); on a stream socket at least one data byte must
// accompany the descriptors (the kernel drops ancillary data sent with none).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <optional>
#include <span>
#include <vector>

#include "sockit/deadline.hpp"
#include "sockit/fd.hpp"
#include "sockit/socket.hpp"

namespace sockit {

// SCM_MAX_FD in the kernel: more per message is EINVAL.
inline constexpr std::size_t kMaxFdsPerMessage = 253;

struct Credentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  friend bool operator==(const Credentials&, const Credentials&) = default;
};

struct ReceivedMessage {
  std::size_t size = 0;                    // data bytes; 0 on a stream means the peer closed
  std::vector<Fd> fds;                     // descriptors that came with it
  std::optional<Credentials> credentials;  // with SO_PASSCRED on the receiver
};

// Sends `data` with `fds` attached (1 to kMaxFdsPerMessage descriptors, borrowed).
// Returns the data bytes sent (a stream may take fewer than all; the fds go with the first byte).
[[nodiscard]] Result<std::size_t> send_fds(const Socket& socket, std::span<const std::byte> data,
                                           std::span<const int> fds, Deadline deadline = {});
// Receives data and up to `max_fds` descriptors.
[[nodiscard]] Result<ReceivedMessage> recv_fds(const Socket& socket, std::span<std::byte> buffer,
                                               std::size_t max_fds = kMaxFdsPerMessage,
                                               Deadline deadline = {});
// Sends `data` with this process's credentials attached (SCM_CREDENTIALS).
[[nodiscard]] Result<std::size_t> send_credentials(const Socket& socket, std::span<const std::byte> data,
                                                   Deadline deadline = {});
// SO_PEERCRED: who was on the other end when the connection was made.
[[nodiscard]] Result<Credentials> peer_credentials(const Socket& socket);

}  // namespace sockit
