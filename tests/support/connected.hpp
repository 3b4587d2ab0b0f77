// Connected socket pairs over a real listener, for tests that need TCP or a
// named Unix socket rather than socketpair().
#pragma once

#include <string>
#include <utility>

#include "sockit/sockit.hpp"

namespace sockit::test {

struct ConnectedPair {
  StreamSocket client;
  StreamSocket server;
};

// Listens on `listen_address` (port 0 / fresh path), connects, accepts, closes the listener.
ConnectedPair connected_pair(const std::string& listen_address);

// The transports the stream tests run over: "unix" (a temp path), "abstract", "tcp4", "tcp6".
std::string listen_address_for(const std::string& kind, const std::string& temp_path);

}  // namespace sockit::test
