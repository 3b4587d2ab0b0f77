// The trouble worth flagging in a socket listing: the problems the reference's
// observability checklist sends people to ss, lsof and /proc for.
//
//   close-wait         a TCP connection the peer closed and this side never did: the
//                      application forgot close(), and the descriptor leaks
//   accept-queue-full  a listener whose queue of unaccepted connections has reached
//                      its backlog: new clients wait or are dropped (TCP counts them
//                      in ListenOverflows) while the server is not calling accept
//   near-fd-limit      a process with at least kFdLimitWarnPercent of its soft
//                      RLIMIT_NOFILE open: its next accept or open fails with EMFILE
//   wildcard-bind      a listener (or UDP socket) on 0.0.0.0 or ::, reachable from
//                      every interface: fine for a server, a surprise for a debug port
//
// Pure functions of the values diag reports; the caller decides which sockets and
// processes are in scope. Thread safety: pure, any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sockit/diag/processes.hpp"
#include "sockit/diag/sockets.hpp"

namespace sockit::diag {

inline constexpr std::uint64_t kFdLimitWarnPercent = 80;

enum class TroubleKind : std::uint8_t { close_wait, accept_queue_full, near_fd_limit, wildcard_bind };

// "close-wait", "accept-queue-full", "near-fd-limit", "wildcard-bind".
[[nodiscard]] const char* trouble_name(TroubleKind kind) noexcept;

struct Trouble {
  TroubleKind kind = TroubleKind::close_wait;
  std::uint64_t inode = 0;  // the socket's; 0 for near-fd-limit
  int pid = 0;              // the process's for near-fd-limit; 0 otherwise
  std::string message;      // one sentence: what, and why it matters
};

[[nodiscard]] std::vector<Trouble> trouble_of(const UnixSocketInfo& socket);
[[nodiscard]] std::vector<Trouble> trouble_of(const InetSocketInfo& socket);
[[nodiscard]] std::optional<Trouble> trouble_of(const ProcessInfo& process);

}  // namespace sockit::diag
