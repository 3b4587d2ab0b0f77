#include "core/unix_path.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "sys/error.hpp"
#include "sys/syscalls.hpp"

namespace sockit::detail {
namespace {

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
  // accepts (or its backlog is full: EAGAIN), a dead one's file refuses.
  auto probe = sys::socket(AF_UNIX, address.socket_type() | SOCK_NONBLOCK);
  if (!probe) return fail(probe.error());
  auto connected = sys::connect(probe->get(), endpoint);
  if (connected || sys::is_would_block(connected.error()) ||
      connected.error() == std::errc::operation_in_progress) {
    return fail(errc::address_in_use);
  }
  if (connected.error() != std::errc::connection_refused) return fail(connected.error());
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
