// Whole-message I/O for the socket types that keep boundaries (internal):
// DatagramSocket and SeqPacketSocket share it so that truncation is detected in
// exactly one place.
//
// The rule is "never silently cut": the receive asks the kernel for the real
// length of the message (MSG_TRUNC in the flags, honoured by UDP, Unix datagram
// and, since Linux 3.4, Unix seqpacket) and also checks MSG_TRUNC in msg_flags;
// either way a message larger than the buffer is errc::message_truncated. The
// message is consumed regardless: that is how the kernel works, and it is why
// callers with unknown sizes peek first with peek_message_size().
//
// All calls borrow `fd` and block through detail::retry_until (see blocking_io.hpp):
// on a non-blocking socket with no deadline they report EAGAIN instead of waiting.
// Free functions on a borrowed descriptor; threads as for the socket that owns it.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <span>

#include "sockit/address.hpp"
#include "sockit/deadline.hpp"
#include "sockit/result.hpp"

namespace sockit::detail {

// True when the kernel says the message did not fit: `real_length` is what a
// receive with MSG_TRUNC returned, `msg_flags` what it put in msghdr::msg_flags.
[[nodiscard]] inline bool was_truncated(std::size_t real_length, std::size_t capacity,
                                        int msg_flags) noexcept {
  return real_length > capacity || (msg_flags & MSG_TRUNC) != 0;
}

// An unbound Unix sender is reported with msg_namelen 0 and no family. Give it the
// shape getsockname() uses for an unnamed socket (AF_UNIX, family only) so that
// Address::from_endpoint sees a Unix address rather than garbage. IP senders
// always have a name, so only Unix sockets reach this.
void normalise_sender(Endpoint& from) noexcept;

// Receives one message. Returns its size (0 is a legal empty datagram, or a
// seqpacket peer that closed). `from`, if given, receives the sender.
[[nodiscard]] Result<std::size_t> recv_message(int fd, std::span<std::byte> buffer, Endpoint* from,
                                               Deadline deadline);

// The size of the next message, leaving it queued (waits for one).
[[nodiscard]] Result<std::size_t> peek_message_size(int fd, Deadline deadline);

// Sends one message, to `to` or (nullptr) to the connected peer. A datagram goes
// whole or not at all; a short count would mean the kernel cut it, which is
// reported as errc::message_truncated rather than as success.
[[nodiscard]] Status send_message(int fd, std::span<const std::byte> data, const Endpoint* to,
                                  Deadline deadline);

}  // namespace sockit::detail
