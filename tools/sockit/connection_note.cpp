#include "connection_note.hpp"

#include <fmt/core.h>

#include "log.hpp"

namespace sockit::cli {

std::string describe_peer(const Channel& channel) {
  auto peer = channel.peer_address();
  std::string line = peer ? peer->to_string() : "an unknown peer";
  if (peer && peer->is_unix()) {
    // The credentials are known for every connected Unix socket; failing to read
    // them is worth a word rather than a silently shorter line.
    auto credentials = channel.peer_credentials();
    line += credentials ? fmt::format(" (pid {}, uid {}, gid {})", credentials->pid, credentials->uid,
                                      credentials->gid)
                        : fmt::format(" (credentials unknown: {})", credentials.error().message());
  }
  return line;
}

void note_connection_from(const Channel& channel) {
  if (!verbose()) return;
  print_note("connection from " + describe_peer(channel));
}

}  // namespace sockit::cli
