// Listener: a listening stream or seqpacket socket, and listen() to make one.
//
// Unix paths are handled the way a restarted daemon needs (the reference's
// "EADDRINUSE after a crash"): if the path exists, listen() probes it with a
// connect. Refused means a stale file from a dead server: it is removed and the
// bind goes on. So does a connect accepted for a process that no longer exists
// (SO_PEERCRED names the process that called listen): after SIGKILL a dying
// io_uring ring can keep the listening socket accepting for tens of milliseconds.
// A live server means errc::address_in_use and its file is not
// touched; a path that is not a socket is errc::not_a_socket_file, never deleted.
// (The probe is one connection the live server sees open and close at once. Two
// servers starting at the same instant on one stale path can still race between
// unlink and bind; the loser then gets EADDRINUSE.)
// The socket file gets the mode, owner and group of `unix_file` (default 0600,
// the caller's) and, on request, its parent directory is created with 0700. The Listener removes its path when it closes,
// but only if the file is still the one it bound (a newer server's file is left alone).
// Abstract names need none of this.
//
// TCP listeners set SO_REUSEADDR by default, so a restart rebinds while old
// connections sit in TIME_WAIT. The backlog is clamped to
// /proc/sys/net/core/somaxconn, and backlog() reports what was used.
//
// Ownership: the Listener owns its fd and (for a Unix path) its socket file.
// Threads: accept() may be called from one thread at a time.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <chrono>
#include <string>

#include "sockit/address.hpp"
#include "sockit/deadline.hpp"
#include "sockit/seqpacket_socket.hpp"
#include "sockit/socket.hpp"
#include "sockit/stream_socket.hpp"
#include "sockit/tcp_options.hpp"
#include "sockit/unix_file_options.hpp"

namespace sockit {

struct ListenOptions {
  int backlog = 511;                 // clamped to somaxconn
  bool reuse_address = true;         // TCP: rebind while old connections are in TIME_WAIT
  bool reuse_port = false;           // TCP: several listeners share the port (SO_REUSEPORT)
  int fast_open_queue = 0;           // TCP: >0 enables TCP Fast Open with this queue length
  bool v6_only = false;              // IPv6: refuse IPv4-mapped connections
  // IP: AF_INET or AF_INET6 binds the first address of that family of a name that
  // has both (a server's -4/-6; errc::no_address_of_family if it has none);
  // AF_UNSPEC (the default) the first of all. A Unix address takes only AF_UNSPEC
  // (errc::invalid_argument).
  int family = AF_UNSPEC;
  UnixFileOptions unix_file{};       // Unix path: the socket file's mode, owner, group, parent
  bool remove_stale = true;          // Unix path: remove a stale socket file (see above)
  // TCP and abstract Unix: while bind finds the address in use, retry for this
  // long. A server killed with SIGKILL can hold its address for tens of
  // milliseconds after its process is gone (io_uring tears its ring down
  // asynchronously); a supervisor's immediate restart rides that out. A live
  // server is never displaced: the bind fails with EADDRINUSE when the time is up.
  // (A Unix path needs no wait: a socket file whose listening process has died is
  // stale, see above.)
  std::chrono::milliseconds bind_retry_for{0};
};

class Listener : public Socket, public TcpOptions<Listener> {
 public:
  Listener() = default;

  using Socket::native_handle;

  // Waits for a connection (until the deadline) and returns it. On a seqpacket
  // listener use accept_seqpacket(); the wrong one is errc::wrong_transport.
  [[nodiscard]] Result<StreamSocket> accept(Deadline deadline = {});
  [[nodiscard]] Result<SeqPacketSocket> accept_seqpacket(Deadline deadline = {});
  // Like accept() but returns the raw connected Fd (used by the event layer).
  [[nodiscard]] Result<Fd> accept_fd(Deadline deadline = {}, bool non_blocking = false);

  // The backlog actually passed to listen(2), after clamping.
  [[nodiscard]] int backlog() const noexcept { return backlog_; }
 private:
  friend Result<Listener> listen(const Address&, const ListenOptions&);
  Listener(Fd fd, Transport transport, int backlog, SocketFile file) noexcept
      : Socket(std::move(fd), transport, std::move(file)), backlog_(backlog) {}

  int backlog_ = 0;
};

// Listens on a tcp://, unix:, unix-seqpacket: address (never a datagram one:
// errc::wrong_transport; use DatagramSocket::bind).
[[nodiscard]] Result<Listener> listen(const Address& address, const ListenOptions& options = {});

}  // namespace sockit
