// SocketFile: ownership of the filesystem entry a Unix socket was bound to.
//
// Removes the file when destroyed (or on remove()), but only if the path still
// names the very file that was bound (same device and inode): if an operator or a
// newer server has replaced it meanwhile, that file is left alone.
// Held by Socket (set by listen() and DatagramSocket::bind()); abstract and
// unnamed sockets have none.
//
// Thread safety: a value type, one thread at a time.
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>

namespace sockit {

class SocketFile {
 public:
  SocketFile() noexcept = default;
  SocketFile(std::string path, dev_t device, ino_t inode) noexcept
      : path_(std::move(path)), device_(device), inode_(inode) {}
  SocketFile(SocketFile&& other) noexcept
      : path_(std::exchange(other.path_, {})), device_(other.device_), inode_(other.inode_) {}
  SocketFile& operator=(SocketFile&& other) noexcept {
    if (this != &other) {
      remove();
      path_ = std::exchange(other.path_, {});
      device_ = other.device_;
      inode_ = other.inode_;
    }
    return *this;
  }
  SocketFile(const SocketFile&) = delete;
  SocketFile& operator=(const SocketFile&) = delete;
  ~SocketFile() { remove(); }

  // Empty when nothing is owned.
  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  // Unlinks the file if it is still ours; then owns nothing. Never fails loudly.
  void remove() noexcept;
  // Stops owning the file without touching it.
  void forget() noexcept { path_.clear(); }

 private:
  std::string path_;
  dev_t device_ = 0;
  ino_t inode_ = 0;
};

}  // namespace sockit
