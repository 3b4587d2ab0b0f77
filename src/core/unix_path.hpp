// Binding a Unix socket to a filesystem path the way a restarted daemon needs
// (internal; used by listen() and DatagramSocket::bind()).
//
// If the path exists: a non-socket file is never touched (errc::not_a_socket_file);
// a socket that refuses a connect is stale and is removed; one that accepts is a
// live server (errc::address_in_use). Then bind, chmod and chown as `file` says, and record the
// inode (in the returned SocketFile) so that cleanup removes only the file this
// process created.
#pragma once

#include <sys/types.h>

#include <string>

#include "sockit/address.hpp"
#include "sockit/result.hpp"
#include "sockit/socket_file.hpp"
#include "sockit/unix_file_options.hpp"

namespace sockit::detail {

struct UnixPathOptions {
  UnixFileOptions file;
  bool remove_stale = true;
};

// Binds `fd` (a fresh AF_UNIX socket of address.socket_type()) to address.path().
Result<SocketFile> bind_unix_path(int fd, const Address& address, const Endpoint& endpoint,
                                     const UnixPathOptions& options);

}  // namespace sockit::detail
