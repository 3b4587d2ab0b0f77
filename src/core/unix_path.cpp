#include "core/unix_path.hpp"

#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <string>

#include "sys/error.hpp"
#include "sys/syscalls.hpp"

namespace sockit::detail {
namespace {

// True only when `pid` certainly names no running process: gone (ESRCH) or a
// zombie / dead task whose parent has not reaped it yet. Anything uncertain
// (pid 0: the owner is in another pid namespace, or a datagram socket, which
// carries no credentials) counts as running: a live server is never displaced.
bool process_is_gone(pid_t pid) {
  if (pid <= 0) return false;
  if (pid == ::getpid()) return false;
  if (::kill(pid, 0) != 0) return errno == ESRCH;
  // "PID (COMMAND) STATE ...": COMMAND may hold spaces and parentheses, so the
  // state is the first field after the last ')'.
  std::ifstream stat_file("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  // No stat file: the zombie was reaped between kill() and here (a supervisor
  // reaping the server it is restarting; the CI found this race under ASan), so
  // ask once more rather than taking a vanished process for a running one.
  if (!std::getline(stat_file, line)) return ::kill(pid, 0) != 0 && errno == ESRCH;
  const auto close_paren = line.rfind(')');
  if (close_paren == std::string::npos || close_paren + 2 >= line.size()) return false;
  const char state = line[close_paren + 2];
  return state == 'Z' || state == 'X';
}

// The process that called listen(2) on the socket `probe` connected to (the
// kernel records its credentials at listen time), if it has died. A server
// killed with SIGKILL can leave its listening socket alive for a few tens of
// milliseconds: io_uring tears a ring down asynchronously after the process is
// gone, and a pending (multishot) accept holds the socket until then, so the
// probe connects although nobody will ever accept. Supervisors restart that fast.
bool owner_has_died(int probe_fd) {
  auto cred = sys::get_option<ucred>(probe_fd, SOL_SOCKET, SO_PEERCRED);
  return cred && process_is_gone(cred->pid);
}

// Decides what an existing path is: Status ok means "free to bind" (removed or absent).
Status clear_stale_path(const Address& address, const Endpoint& endpoint, bool remove_stale) {
  struct stat st {};
  if (::lstat(address.path().c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    return fail(sys::last_error());
  }
  if (!S_ISSOCK(st.st_mode)) return fail(errc::not_a_socket_file);
  if (!remove_stale) return fail(errc::address_in_use);

  // Probe with a non-blocking connect of the same socket type: a live server
  // accepts (or its backlog is full: EAGAIN), a dead one's file refuses, and a
  // socket that accepts for a process that has died is stale as well.
  auto probe = sys::socket(AF_UNIX, address.socket_type() | SOCK_NONBLOCK);
  if (!probe) return fail(probe.error());
  auto connected = sys::connect(probe->get(), endpoint);
  if (connected) {
    if (!owner_has_died(probe->get())) return fail(errc::address_in_use);
  } else if (sys::is_would_block(connected.error()) || connected.error() == std::errc::operation_in_progress) {
    return fail(errc::address_in_use);
  } else if (connected.error() != std::errc::connection_refused) {
    return fail(connected.error());
  }
  if (::unlink(address.path().c_str()) != 0 && errno != ENOENT) return fail(sys::last_error());
  return {};
}

Status create_parent(const std::string& path) {
  const auto parent = std::filesystem::path(path).parent_path();
  if (parent.empty()) return {};
  std::error_code ec;
  std::filesystem::create_directories(parent, ec);
  if (ec) return fail(ec);
  // Only the owner may reach the socket: the article's "directory with 0700".
  std::filesystem::permissions(parent, std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::replace, ec);
  if (ec) return fail(ec);
  return {};
}

}  // namespace

Result<SocketFile> bind_unix_path(int fd, const Address& address, const Endpoint& endpoint,
                                     const UnixPathOptions& options) {
  const UnixFileOptions& file = options.file;
  if (file.create_parent_directory) {
    if (auto s = create_parent(address.path()); !s) return fail(s.error());
  }
  if (auto s = clear_stale_path(address, endpoint, options.remove_stale); !s) return fail(s.error());
  if (auto s = sys::bind(fd, endpoint); !s) return fail(s.error());

  const std::string& path = address.path();
  struct stat st {};
  // chown after chmod: the order a reader of `ls -l` expects, and root's chown keeps the mode.
  const bool chown_wanted = file.owner.has_value() || file.group.has_value();
  if (::stat(path.c_str(), &st) != 0 || ::chmod(path.c_str(), file.mode) != 0 ||
      (chown_wanted && ::chown(path.c_str(), file.owner.value_or(static_cast<uid_t>(-1)),
                               file.group.value_or(static_cast<gid_t>(-1))) != 0)) {
    const auto ec = sys::last_error();
    ::unlink(path.c_str());  // a file with the wrong owner must not stay behind
    return fail(ec);
  }
  return SocketFile(path, st.st_dev, st.st_ino);
}

}  // namespace sockit::detail

namespace sockit {

void SocketFile::remove() noexcept {
  if (path_.empty()) return;
  struct stat st {};
  if (::lstat(path_.c_str(), &st) == 0 && st.st_dev == device_ && st.st_ino == inode_) {
    ::unlink(path_.c_str());
  }
  path_.clear();
}

}  // namespace sockit::detail
