// ServiceProcess: a server of any kind alone in a child process, so that what it
// holds — memory, descriptors, CPU time — can be measured from outside
// (support/process_probe.hpp) while test clients attack it, and so that a lowered
// RLIMIT_NOFILE limits only it. ServerProcess (a net::Server) and
// DatagramEchoProcess (a net::DatagramEndpoint echo) are the two kinds; this is
// their common part: fork, start, report, answer requests for counters, stop.
//
// The child sets the descriptor limit, starts the service, reports its address (a
// port 0 made real) through a socketpair, then answers requests on it until
// stop() or the parent's end closing: each stats request is answered with the
// service's counters (a trivially copyable struct, sent as its bytes with their
// length, which the parent checks). A 60 s alarm ends a child whose parent got lost.
//
// Create it before the test starts threads of its own: fork copies only the
// calling thread, and a lock held elsewhere at that moment stays held in the child.
#pragma once

#include <sys/resource.h>

#include <chrono>
#include <cstddef>
#include <cstring>
#include <expected>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "sockit/address.hpp"
#include "sockit/fd.hpp"
#include "support/child.hpp"

namespace sockit::test {

// What a service started in the child offers. Every function runs in the child,
// on its main thread.
struct ChildService {
  Address address;                                // where it serves
  std::function<std::vector<std::byte>()> stats;  // its counters, as the bytes of their struct
  std::function<void()> stop;                     // before the child exits
};
// Runs in the child once the descriptor limit is set: the started service, or why not.
using StartService = std::function<std::expected<ChildService, std::string>()>;

// The bytes of a counters struct, for ChildService::stats.
template <typename Stats>
std::vector<std::byte> bytes_of_stats(const Stats& stats) {
  static_assert(std::is_trivially_copyable_v<Stats>, "sent through a socket as bytes");
  const auto* p = reinterpret_cast<const std::byte*>(&stats);
  return {p, p + sizeof stats};
}

class ServiceProcess {
 public:
  // descriptor_limit: RLIMIT_NOFILE for the child, 0 to leave it.
  explicit ServiceProcess(StartService start, rlim_t descriptor_limit = 0);
  ~ServiceProcess();  // stop() if still running
  ServiceProcess(const ServiceProcess&) = delete;
  ServiceProcess& operator=(const ServiceProcess&) = delete;

  // Waits (10 s at most) for the child's report; false, with error(), if it failed to start.
  [[nodiscard]] bool started();
  [[nodiscard]] const std::string& error() const { return error_; }
  [[nodiscard]] const Address& address() const { return address_; }
  [[nodiscard]] pid_t pid() const { return child_->pid(); }

  // Shuts the service down (its stop(), then the child exits) and returns the
  // child's exit status (0: clean), waiting 10 s at most.
  int stop();

 protected:
  // The service's counters now, as bytes (10 s at most for the answer); nullopt if
  // the child did not answer.
  [[nodiscard]] std::optional<std::vector<std::byte>> stats_bytes();

 private:
  Fd channel_;  // to the child: requests out, reports and stats in
  std::unique_ptr<Child> child_;
  Address address_;
  std::string error_;
  bool reported_ = false;
  std::optional<int> exit_status_;
};

// A ServiceProcess whose counters are a `Stats`.
template <typename Stats>
class ServiceProcessOf : public ServiceProcess {
 public:
  using ServiceProcess::ServiceProcess;

  // The service's counters now (10 s at most for the answer).
  [[nodiscard]] std::optional<Stats> stats() {
    auto bytes = stats_bytes();
    if (!bytes || bytes->size() != sizeof(Stats)) return std::nullopt;
    Stats s;
    std::memcpy(&s, bytes->data(), sizeof s);
    return s;
  }
  // Asks for stats until `done` holds of them (every 5 ms, `limit` at most) and
  // returns the last ones asked for (nullopt if the child did not answer).
  [[nodiscard]] std::optional<Stats> stats_when(const std::function<bool(const Stats&)>& done,
                                                std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    const auto until = std::chrono::steady_clock::now() + limit;
    for (;;) {
      auto s = stats();
      if (!s || done(*s) || std::chrono::steady_clock::now() > until) return s;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
};

}  // namespace sockit::test
