// The -v line for an accepted connection: who it came from, and on a Unix socket
// the peer's pid, uid and gid (SO_PEERCRED: the credentials the kernel recorded at
// connect, so they name the process that connected, not whoever holds the socket now).
#pragma once

#include <string>

#include "channel.hpp"

namespace sockit::cli {

// "unix:(unnamed) (pid 4242, uid 1000, gid 1000)", "tcp://127.0.0.1:5555".
std::string describe_peer(const Channel& channel);

// "sockit: connection from unix:(unnamed) (pid 4242, uid 1000, gid 1000)"; only with -v.
void note_connection_from(const Channel& channel);

}  // namespace sockit::cli
