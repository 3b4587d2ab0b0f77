// Reading the control messages (ancillary data) of a received msghdr (internal;
// used by recv_fds and fuzzed by fuzz/fuzz_control_messages.cpp).
//
// The kernel writes well-formed cmsgs, but the walk is written as if it did not:
// nothing is read past msg_controllen, whatever a cmsg_len field claims, and a
// header too short for what its type carries is skipped.
#pragma once

#include <sys/socket.h>

#include <optional>
#include <vector>

#include "sockit/ancillary.hpp"

namespace sockit::detail {

struct ControlContents {
  std::vector<int> fds;  // SCM_RIGHTS descriptors, in order: not owned yet
  std::optional<Credentials> credentials;  // SCM_CREDENTIALS (the last one, if several)
};

// Appends what `message`'s control data carries to `out`. Descriptors are only
// collected: the caller takes ownership (reserve out.fds first, so that appending
// cannot throw half-way and leave some unowned).
void read_control_messages(const msghdr& message, ControlContents& out);

}  // namespace sockit::detail
