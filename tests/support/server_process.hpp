// ServerProcess: a net::Server alone in a child process, so that what it holds —
// memory, descriptors — can be measured from outside (support/process_probe.hpp)
// while test clients attack it, and so that a lowered RLIMIT_NOFILE limits only it.
//
// The child creates and starts the server, reports its address (a TCP port 0 made
// real) through a socketpair, then answers requests on it until stop() or the
// parent's end closing: each stats() request is answered with a ServerStats. A 60 s
// alarm ends a child whose parent got lost.
//
// Create it before the test starts threads of its own: fork copies only the
// calling thread, and a lock held elsewhere at that moment stays held in the child.
#pragma once

#include <sys/resource.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "sockit/fd.hpp"
#include "sockit/net/server.hpp"
#include "support/child.hpp"

namespace sockit::test {

class ServerProcess {
 public:
  // descriptor_limit: RLIMIT_NOFILE for the child, 0 to leave it.
  ServerProcess(const Address& address, net::ServerOptions options, net::Server::ConnectionHandler handler,
                rlim_t descriptor_limit = 0);
  ~ServerProcess();  // stop() if still running
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // Waits (10 s at most) for the child's report; false, with error(), if it failed to start.
  [[nodiscard]] bool started();
  [[nodiscard]] const std::string& error() const { return error_; }
  [[nodiscard]] const Address& address() const { return address_; }
  [[nodiscard]] pid_t pid() const { return child_->pid(); }

  // The server's counters now (10 s at most for the answer).
  [[nodiscard]] std::optional<net::ServerStats> stats();
  // Asks for stats until `done` holds of them (every 5 ms, `limit` at most) and
  // returns the last ones asked for (nullopt if the child did not answer).
  [[nodiscard]] std::optional<net::ServerStats> stats_when(const std::function<bool(const net::ServerStats&)>& done,
                                                           std::chrono::milliseconds limit = std::chrono::seconds(10));
  // Shuts the server down (1 s deadline) and returns the child's exit status (0: clean).
  int stop();

 private:
  Fd channel_;  // to the child: requests out, reports and stats in
  std::unique_ptr<Child> child_;
  Address address_;
  std::string error_;
  bool reported_ = false;
  std::optional<int> exit_status_;
};

// The usual handler: every message is sent back as it came.
void echo_messages(net::Connection& c);

}  // namespace sockit::test
