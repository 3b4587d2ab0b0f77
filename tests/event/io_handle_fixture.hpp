// The IoHandle conformance fixture, shared by io_handle_test.cpp and
// io_handle_lifetime_test.cpp (split to keep each file under ~500 lines).
// Sockets are declared before the IoHandles that watch them, so every handle is
// destroyed (unregistered) before its descriptor closes.
#pragma once

#include "sockit/event/io_handle.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "sockit/event/event_loop.hpp"
#include "sockit/sockit.hpp"
#include "support/bytes.hpp"
#include "support/connected.hpp"
#include "support/loop_helpers.hpp"
#include "support/temp_dir.hpp"

namespace sockit {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Bytes = std::span<const std::byte>;

class IoHandle : public test::LoopTest {
 protected:
  // Registers `fd` (which must already be non-blocking) or fails the test.
  event::IoHandle watch(int fd) {
    auto handle = loop().watch(fd);
    EXPECT_TRUE(handle) << handle.error().message();
    return handle ? std::move(*handle) : event::IoHandle();
  }
};

std::pair<StreamSocket, StreamSocket> socket_pair() {
  auto pair = stream_socket_pair();
  if (!pair) throw std::runtime_error("socketpair: " + pair.error().message());
  return std::move(*pair);
}

// Writes into `socket` (made non-blocking for the purpose) until the kernel
// refuses more; returns the bytes written. The bytes are `data` repeated.
std::size_t fill_until_full(StreamSocket& socket, std::vector<std::byte>& sent) {
  EXPECT_TRUE(socket.set_non_blocking(true));
  std::array<std::byte, 4096> block{};
  std::size_t total = 0;
  for (;;) {
    for (std::size_t i = 0; i < block.size(); ++i) block[i] = static_cast<std::byte>((total + i) * 31 % 251);
    const ssize_t n = ::send(socket.native_handle(), block.data(), block.size(), MSG_NOSIGNAL);
    if (n <= 0) break;
    sent.insert(sent.end(), block.begin(), block.begin() + n);
    total += static_cast<std::size_t>(n);
  }
  EXPECT_TRUE(socket.set_non_blocking(false));
  return total;
}

[[maybe_unused]] int queued_bytes(int fd) {
  int n = -1;
  ::ioctl(fd, FIONREAD, &n);
  return n;
}

[[maybe_unused]] Endpoint endpoint_of(const Address& address) {
  auto endpoints = address.resolve();
  if (!endpoints || endpoints->empty()) throw std::runtime_error("resolve " + address.to_string());
  return endpoints->front();
}

[[maybe_unused]] Fd tcp_socket_nonblocking() { return Fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)); }


}  // namespace
}  // namespace sockit
