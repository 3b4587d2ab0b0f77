// serve_keep(): `listen --keep`, clients served at the same time on one poll loop.
//
// Without --exec, the conversation is the terminal's, as with `ncat --keep-open`:
// what each client sends is written to stdout as it arrives (whole reads are never
// split, but reads of different clients interleave), and what stdin brings is
// sent to every client connected at that moment. Stdin is read only while at
// least one client is connected, and pauses while any client has more than
// kHighWaterBytes waiting, so a slow client slows stdin down rather than growing
// memory. After stdin's end every client, current and later, is half-closed once
// its queue is sent, and is served until it closes.
// With --exec, each client gets its own child process (ExecSession) and stdin is
// not read.
//
// At most `max_connections` clients at a time (each is a socket, and with --exec
// a process): one more is accepted and closed at once, counted, and reported with
// -v. A client's error is reported and the others go on. SIGINT/SIGTERM end it
// (children get SIGTERM, kChildGrace, then SIGKILL); a closed stdout ends it too.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "session.hpp"
#include "sockit/listener.hpp"

namespace sockit::cli {

struct KeepOptions {
  std::size_t max_connections = 16;
  SessionOptions session;
  std::string exec;    // empty: relay with stdin/stdout
  int signal_fd = -1;  // borrowed
};

// Returns the exit status.
[[nodiscard]] int serve_keep(Listener& listener, const KeepOptions& options, std::string_view address_text);

}  // namespace sockit::cli
