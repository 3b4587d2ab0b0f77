// Socket: the base of every sockit socket type. Owns one Fd and offers the
// options that apply to every socket (SOL_SOCKET level, plus IPV6_V6ONLY).
//
// Option getters return what the kernel reports, so receive_buffer_size() after
// set_receive_buffer_size(n) returns the kernel's effective value (2n on Linux,
// clamped to its limits) rather than echoing n back.
//
// Ownership: the Socket owns its descriptor; native_handle() lends it.
// Thread safety: one thread at a time per object, like any value; the kernel
// itself allows one sender and one receiver thread at once on a connected socket.
#pragma once

#include <chrono>
#include <optional>

#include "sockit/address.hpp"
#include "sockit/fd.hpp"
#include "sockit/result.hpp"
#include "sockit/socket_file.hpp"

namespace sockit {

enum class ShutdownHow { read, write, both };

class Socket {
 public:
  [[nodiscard]] int native_handle() const noexcept { return fd_.get(); }
  [[nodiscard]] bool is_open() const noexcept { return fd_.valid(); }
  // Closes now (the destructor would too). A Unix socket file this socket created
  // (listen, DatagramSocket::bind) is removed first, so a new server can take the path.
  void close() noexcept {
    file_.remove();
    fd_.reset();
  }
  // Gives the descriptor away; this Socket is then closed. The socket file, if any,
  // goes with it: it is left on disk for the new owner.
  [[nodiscard]] Fd release() noexcept {
    file_.forget();
    return std::move(fd_);
  }

  [[nodiscard]] Result<Address> local_address() const;
  [[nodiscard]] Result<Address> peer_address() const;
  // The transport this socket was made for (decides how addresses are reported).
  [[nodiscard]] Transport transport() const noexcept { return transport_; }

  // --- options every socket has -------------------------------------------------
  [[nodiscard]] Status set_reuse_address(bool on);
  [[nodiscard]] Result<bool> reuse_address() const;
  [[nodiscard]] Status set_reuse_port(bool on);
  [[nodiscard]] Result<bool> reuse_port() const;
  [[nodiscard]] Status set_receive_buffer_size(int bytes);
  [[nodiscard]] Result<int> receive_buffer_size() const;  // effective (doubled) size
  [[nodiscard]] Status set_send_buffer_size(int bytes);
  [[nodiscard]] Result<int> send_buffer_size() const;     // effective (doubled) size
  [[nodiscard]] Status set_receive_low_water(int bytes);
  [[nodiscard]] Result<int> receive_low_water() const;
  // Linux does not let SO_SNDLOWAT be changed; the setter reports ENOPROTOOPT.
  [[nodiscard]] Status set_send_low_water(int bytes);
  [[nodiscard]] Result<int> send_low_water() const;
  // SO_RCVTIMEO / SO_SNDTIMEO; zero means none. A blocking call that hits it
  // returns errc::timed_out.
  [[nodiscard]] Status set_receive_timeout(std::chrono::microseconds timeout);
  [[nodiscard]] Result<std::chrono::microseconds> receive_timeout() const;
  [[nodiscard]] Status set_send_timeout(std::chrono::microseconds timeout);
  [[nodiscard]] Result<std::chrono::microseconds> send_timeout() const;
  // SO_LINGER. nullopt: the default (close returns at once, the kernel flushes).
  // A zero duration makes close() abortive: pending data is dropped and a TCP
  // peer receives RST instead of FIN.
  [[nodiscard]] Status set_linger(std::optional<std::chrono::seconds> linger);
  [[nodiscard]] Result<std::optional<std::chrono::seconds>> linger() const;
  [[nodiscard]] Status set_non_blocking(bool on);
  [[nodiscard]] Result<bool> non_blocking() const;
  // IPV6_V6ONLY; only for AF_INET6 sockets, and only before bind.
  [[nodiscard]] Status set_v6_only(bool on);
  [[nodiscard]] Result<bool> v6_only() const;
  // SO_ERROR: the pending error, cleared by reading it.
  [[nodiscard]] Result<std::error_code> pending_error() const;
  // SO_PASSCRED: receive SCM_CREDENTIALS with every message (Unix sockets).
  [[nodiscard]] Status set_pass_credentials(bool on);
  // SO_TYPE / SO_DOMAIN as the kernel reports them.
  [[nodiscard]] Result<int> kernel_socket_type() const;
  [[nodiscard]] Result<int> kernel_family() const;

  [[nodiscard]] Status shutdown(ShutdownHow how);

 protected:
  Socket() = default;
  Socket(Fd fd, Transport transport) noexcept : fd_(std::move(fd)), transport_(transport) {}
  Socket(Fd fd, Transport transport, SocketFile file) noexcept
      : file_(std::move(file)), fd_(std::move(fd)), transport_(transport) {}
  ~Socket() = default;
  Socket(Socket&&) noexcept = default;
  Socket& operator=(Socket&&) noexcept = default;

 private:
  // Destroyed after fd_ (reverse declaration order); that is safe because removal
  // checks the inode, so a newer server's file at the same path is never touched.
  SocketFile file_;
  Fd fd_;
  Transport transport_ = Transport::unix_stream;
};

}  // namespace sockit
