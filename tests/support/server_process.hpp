// ServerProcess: a net::Server alone in a child process (support/service_process.hpp
// has the common part: fork, start, report, counters, stop), so that what it holds
// can be measured from outside while test clients attack it, and so that a lowered
// RLIMIT_NOFILE limits only it. Its counters are the server's ServerStats.
//
// Create it before the test starts threads of its own (fork: see ServiceProcess).
#pragma once

#include <sys/resource.h>

#include "sockit/net/server.hpp"
#include "support/service_process.hpp"

namespace sockit::test {

class ServerProcess : public ServiceProcessOf<net::ServerStats> {
 public:
  // descriptor_limit: RLIMIT_NOFILE for the child, 0 to leave it.
  ServerProcess(const Address& address, net::ServerOptions options, net::Server::ConnectionHandler handler,
                rlim_t descriptor_limit = 0);
};

// The usual handler: every message is sent back as it came.
void echo_messages(net::Connection& c);

}  // namespace sockit::test
