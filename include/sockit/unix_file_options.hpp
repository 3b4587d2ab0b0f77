// UnixFileOptions: how the filesystem entry of a Unix socket bound to a path is
// made (listen() and DatagramSocket::bind(); abstract names have no file).
//
// The socket's mode is what decides who may connect: connect(2) on a Unix path
// needs write permission on the file. Owner and group are applied with chown(2)
// after the chmod, so handing a socket to another user or group needs the right
// to chown (root or CAP_CHOWN; an owner may give the file to a group it is in).
// Between bind and chmod the file briefly has the umask's permissions: where that
// matters, create the parent directory (0700) with create_parent_directory.
//
// Thread safety: a value type.
#pragma once

#include <sys/types.h>

#include <optional>

namespace sockit {

struct UnixFileOptions {
  mode_t mode = 0600;                  // the socket file's permissions (07777 at most)
  std::optional<uid_t> owner{};        // chown to this user; none: the caller's
  std::optional<gid_t> group{};        // chown to this group; none: the caller's
  bool create_parent_directory = false;  // mkdir -p the parent, with 0700
};

}  // namespace sockit
