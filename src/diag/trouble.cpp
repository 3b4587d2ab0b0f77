#include "sockit/diag/trouble.hpp"

#include <netinet/in.h>

#include <string>

namespace sockit::diag {
namespace {

// A listener's queue is full when it holds as many connections as the backlog
// allows (the kernel admits backlog + 1 before it drops, so ">=" flags the edge).
bool queue_full(std::uint32_t waiting, std::uint32_t backlog) { return waiting > 0 && waiting >= backlog; }

std::string backlog_text(std::uint32_t waiting, std::uint32_t backlog) {
  return std::to_string(waiting) + " connection" + (waiting == 1 ? "" : "s") + " waiting, backlog " +
         std::to_string(backlog);
}

}  // namespace

const char* trouble_name(TroubleKind kind) noexcept {
  switch (kind) {
    case TroubleKind::close_wait: return "close-wait";
    case TroubleKind::accept_queue_full: return "accept-queue-full";
    case TroubleKind::near_fd_limit: return "near-fd-limit";
    case TroubleKind::wildcard_bind: return "wildcard-bind";
  }
  return "unknown";
}

std::vector<Trouble> trouble_of(const UnixSocketInfo& socket) {
  std::vector<Trouble> found;
  if (socket.state == SocketState::listen && socket.has_queue_lengths &&
      queue_full(socket.rqueue, socket.wqueue)) {
    found.push_back({TroubleKind::accept_queue_full, socket.inode, 0,
                     "unix listener " + socket.display_name() + " has a full accept queue (" +
                         backlog_text(socket.rqueue, socket.wqueue) + "): the server is not accepting"});
  }
  return found;
}

std::vector<Trouble> trouble_of(const InetSocketInfo& socket) {
  std::vector<Trouble> found;
  const char* protocol = socket.protocol == IPPROTO_TCP ? "tcp" : "udp";
  const std::string local = socket.local.to_string();
  if (socket.protocol == IPPROTO_TCP && socket.state == SocketState::close_wait) {
    found.push_back({TroubleKind::close_wait, socket.inode, 0,
                     "tcp " + local + " <- " + socket.peer.to_string() +
                         " is in CLOSE-WAIT: the peer closed and the application has not closed its end"});
  }
  if (socket.protocol == IPPROTO_TCP && socket.state == SocketState::listen &&
      queue_full(socket.rqueue, socket.wqueue)) {
    found.push_back({TroubleKind::accept_queue_full, socket.inode, 0,
                     "tcp listener " + local + " has a full accept queue (" +
                         backlog_text(socket.rqueue, socket.wqueue) +
                         "): the server is not accepting and new connections are dropped"});
  }
  // Listeners and unconnected UDP sockets with a port: what a remote host can reach.
  const bool serving = socket.protocol == IPPROTO_TCP
                           ? socket.state == SocketState::listen
                           : socket.state == SocketState::close && socket.local.port != 0;
  if (serving && socket.local.is_wildcard()) {
    found.push_back({TroubleKind::wildcard_bind, socket.inode, 0,
                     std::string(protocol) + " " + local + " is bound to every interface (" +
                         (socket.local.family == AF_INET ? "0.0.0.0" : "::") +
                         "), reachable from other hosts"});
  }
  return found;
}

std::optional<Trouble> trouble_of(const ProcessInfo& process) {
  if (!process.fd_limit || *process.fd_limit == 0) return std::nullopt;
  if (process.open_fds * 100 < *process.fd_limit * kFdLimitWarnPercent) return std::nullopt;
  return Trouble{TroubleKind::near_fd_limit, 0, process.pid,
                 "process " + std::to_string(process.pid) + " (" + process.command + ") has " +
                     std::to_string(process.open_fds) + " of its " + std::to_string(*process.fd_limit) +
                     " descriptors open: its next accept or open may fail with EMFILE"};
}

}  // namespace sockit::diag
