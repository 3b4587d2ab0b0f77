// Parsing sock_diag netlink replies: the untrusted-input half of diag, kept apart
// from the socket that reads them so it can be fed crafted buffers in tests.
//
// Every read is a bounds-checked memcpy (netlink buffers are only 4-byte aligned
// and a crafted one need not be even that): a length that points past the end,
// an attribute shorter than its type needs, a message shorter than its header
// are errc::malformed_reply, never a read out of bounds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "sockit/diag/sockets.hpp"
#include "sockit/result.hpp"

namespace sockit::diag::detail {

enum class DumpStep { more, done };  // done: NLMSG_DONE was in this buffer

// One datagram of a UNIX_DIAG dump answering the request numbered `seq`. The
// sockets found are appended to `out` (errc::limit_reached past kMaxDiagSockets);
// an NLMSG_ERROR becomes its system error.
[[nodiscard]] Result<DumpStep> parse_unix_reply(std::span<const std::byte> datagram, std::uint32_t seq,
                                                std::vector<UnixSocketInfo>& out);
// The same for INET_DIAG; `protocol` (IPPROTO_TCP/UDP) is copied into each entry.
[[nodiscard]] Result<DumpStep> parse_inet_reply(std::span<const std::byte> datagram, std::uint32_t seq,
                                                int protocol, std::vector<InetSocketInfo>& out);

}  // namespace sockit::diag::detail
