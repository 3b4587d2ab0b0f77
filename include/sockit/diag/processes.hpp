// Which processes hold which sockets: a walk of /proc/PID/fd, as lsof and ss -p do.
//
// A socket's descriptor reads as the link "socket:[INODE]"; the inode is what
// sock_diag reports, so the two meet there. The walk also counts each process's
// open descriptors and reads its soft RLIMIT_NOFILE from /proc/PID/limits, for
// the "near its descriptor limit" warning.
//
// /proc changes under the walk: a process that exits half-way is skipped, not an
// error. One whose fd directory or fd links we may not read (another user's when
// not root; any without ptrace access, in a sandbox) is counted in `unreadable`,
// so a caller can say why its sockets show no owner. The walk is bounded by
// ProcessScanLimits; hitting a bound sets `truncated`.
//
// Thread safety: a free function over the filesystem; call from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace sockit::diag {

struct ProcessInfo {
  int pid = 0;
  std::string command;  // /proc/PID/comm, without its newline
  std::size_t open_fds = 0;
  std::optional<std::uint64_t> fd_limit;  // soft RLIMIT_NOFILE; absent if unreadable or unlimited
};

// One process's descriptor for a socket.
struct SocketOwner {
  std::size_t process = 0;  // index into ProcessScan::processes
  int fd = 0;
};

struct ProcessScanLimits {
  std::size_t max_processes = 100'000;
  std::size_t max_fds_per_process = 1'000'000;
};

struct ProcessScan {
  std::vector<ProcessInfo> processes;  // only the ones whose fd directory was read
  std::unordered_map<std::uint64_t, std::vector<SocketOwner>> owners;  // by socket inode
  // Processes whose fd directory or fd links we were not allowed to read; those
  // whose directory listed are still in `processes` (their count of fds is right).
  std::size_t unreadable = 0;
  bool truncated = false;      // a limit stopped the walk early

  // The process with this pid, or nullptr if it was not read.
  [[nodiscard]] const ProcessInfo* find(int pid) const;
};

// Walks `proc_root` (normally /proc; tests pass a fake tree).
[[nodiscard]] ProcessScan scan_processes(const std::string& proc_root = "/proc",
                                         const ProcessScanLimits& limits = {});

}  // namespace sockit::diag
