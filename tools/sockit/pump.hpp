// pump(): relays stdin to one connected Channel and the Channel to stdout, the
// way nc does, until both directions are finished (the rules are Session's, see
// session.hpp), a timer of SessionOptions ends it, or a signal on `signal_fd`
// (if given) stops it at once. Reading stdin pauses while more than
// kHighWaterBytes wait for a slow peer, and stdout is written blocking, so memory
// stays bounded whichever side is slow.
#pragma once

#include "session.hpp"

namespace sockit::cli {

struct PumpOptions {
  SessionOptions session;
  int signal_fd = -1;  // borrowed; -1 for none
};

[[nodiscard]] PumpResult pump(Channel channel, StdinState& stdin_state, const PumpOptions& options);

}  // namespace sockit::cli
