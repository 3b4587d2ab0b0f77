#include "support/echo_load.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <random>
#include <vector>

#include "sockit/connect.hpp"
#include "sockit/stream_socket.hpp"

namespace sockit::test {
namespace {

// The frames of one connection, generated on demand: the sender and the checker
// each own one, seeded alike, so they produce the same bytes.
class FrameSource {
 public:
  FrameSource(std::uint64_t seed, std::size_t max_payload) : rng_(seed), sizes_(1, max_payload) {}
  // The next frame on the wire: 4-byte big-endian length, then the payload.
  void next(std::vector<std::byte>& out) {
    const auto size = static_cast<std::uint32_t>(sizes_(rng_));
    out.resize(4 + size);
    const std::uint32_t be = htonl(size);
    std::memcpy(out.data(), &be, 4);
    // Eight payload bytes per draw: generating the data must not be the bottleneck.
    for (std::size_t i = 0; i < size; i += 8) {
      const std::uint64_t word = rng_();
      std::memcpy(out.data() + 4 + i, &word, std::min<std::size_t>(8, size - i));
    }
  }

 private:
  std::mt19937_64 rng_;
  std::uniform_int_distribution<std::size_t> sizes_;
};

struct Client {
  Client(StreamSocket s, FrameSource send, FrameSource check)
      : socket(std::move(s)), sender(std::move(send)), checker(std::move(check)) {}
  StreamSocket socket;
  FrameSource sender, checker;
  std::vector<std::byte> outgoing;  // unsent bytes of frames in flight
  std::size_t outgoing_offset = 0;
  std::vector<std::byte> expected;  // the frame being checked
  std::size_t expected_offset = 0;
  int sent = 0, verified = 0;
  bool watching_writable = true;
};

}  // namespace

EchoLoadResult run_echo_load(const Address& server, const EchoLoad& load, const EchoLoadHooks& hooks) {
  EchoLoadResult result;
  auto failed = [&result](std::string why) {
    result.error = std::move(why);
    return result;
  };
  const auto until = std::chrono::steady_clock::now() + load.time_limit;
  const int epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd < 0) return failed("epoll_create1 failed");
  struct CloseEpoll { int fd; ~CloseEpoll() { ::close(fd); } } close_epoll{epoll_fd};

  std::vector<Client> clients;
  clients.reserve(static_cast<std::size_t>(load.connections));
  std::vector<std::byte> frame;
  for (int i = 0; i < load.connections; ++i) {
    if (std::chrono::steady_clock::now() > until) {
      return failed("time limit reached with " + std::to_string(i) + " of " + std::to_string(load.connections) +
                    " connections made");
    }
    auto socket = connect(server, load.connect_timeout);
    if (!socket) return failed("connect " + std::to_string(i) + ": " + socket.error().message());
    if (auto s = socket->set_non_blocking(true); !s) return failed("set_non_blocking: " + s.error().message());
    const std::uint64_t seed = load.seed * 1000003u + static_cast<std::uint64_t>(i);
    Client& c = clients.emplace_back(std::move(*socket), FrameSource{seed, load.max_payload},
                                     FrameSource{seed, load.max_payload});
    epoll_event ev{EPOLLIN | EPOLLOUT, {.u64 = static_cast<std::uint64_t>(i)}};
    if (::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, c.socket.native_handle(), &ev) != 0) return failed("epoll_ctl failed");
    ++result.connections_open;
  }
  if (hooks.all_connected && !hooks.all_connected(result)) return failed("stopped once all were connected");

  // Keeps `window` frames in flight: queue new ones as old ones are verified.
  auto top_up = [&](Client& c) {
    while (c.sent < load.frames_per_connection && c.sent - c.verified < load.window) {
      c.sender.next(frame);
      c.outgoing.insert(c.outgoing.end(), frame.begin(), frame.end());
      ++c.sent;
    }
  };
  for (auto& c : clients) top_up(c);

  int done = 0;
  std::vector<epoll_event> events(256);
  std::vector<std::byte> input(64 * 1024);
  while (done < load.connections) {
    if (std::chrono::steady_clock::now() > until) {
      result.error = "time limit reached with " + std::to_string(load.connections - done) + " connections unfinished";
      return result;
    }
    const int n = ::epoll_wait(epoll_fd, events.data(), static_cast<int>(events.size()), 100);
    for (int k = 0; k < n; ++k) {
      const auto index = static_cast<std::size_t>(events[static_cast<std::size_t>(k)].data.u64);
      Client& c = clients[index];
      const int fd = c.socket.native_handle();
      // Write what is pending.
      while (c.outgoing_offset < c.outgoing.size()) {
        const ssize_t w = ::send(fd, c.outgoing.data() + c.outgoing_offset, c.outgoing.size() - c.outgoing_offset,
                                 MSG_NOSIGNAL);
        if (w < 0 && (errno == EAGAIN || errno == EINTR)) break;
        if (w < 0) return failed("send: " + std::string(std::strerror(errno)));
        c.outgoing_offset += static_cast<std::size_t>(w);
      }
      if (c.outgoing_offset == c.outgoing.size()) {
        c.outgoing.clear();
        c.outgoing_offset = 0;
      }
      // Check what came back, byte for byte against the regenerated frames.
      for (;;) {
        const ssize_t r = ::recv(fd, input.data(), input.size(), 0);
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) break;
        if (r <= 0) {
          return failed("connection " + std::to_string(index) + " closed by the server after " +
                        std::to_string(c.verified) + " frames" + (r < 0 ? ": " + std::string(std::strerror(errno)) : ""));
        }
        std::size_t at = 0;
        while (at < static_cast<std::size_t>(r)) {
          if (c.expected_offset == c.expected.size()) {
            if (c.verified == c.sent) return failed("more bytes than were sent");
            c.checker.next(c.expected);
            c.expected_offset = 0;
          }
          const std::size_t take = std::min(c.expected.size() - c.expected_offset, static_cast<std::size_t>(r) - at);
          if (std::memcmp(input.data() + at, c.expected.data() + c.expected_offset, take) != 0) {
            return failed("connection " + std::to_string(index) + ": frame " + std::to_string(c.verified) +
                          " came back altered");
          }
          at += take;
          c.expected_offset += take;
          result.bytes_verified += take;
          if (c.expected_offset == c.expected.size()) {
            ++c.verified;
            ++result.frames_verified;
            if (c.verified == load.frames_per_connection) ++done;
          }
        }
      }
      top_up(c);
      // Ask for writability only while something is left to write.
      if (const bool want = !c.outgoing.empty(); want != c.watching_writable) {
        c.watching_writable = want;
        epoll_event ev{want ? std::uint32_t{EPOLLIN | EPOLLOUT} : std::uint32_t{EPOLLIN}, {.u64 = index}};
        ::epoll_ctl(epoll_fd, EPOLL_CTL_MOD, fd, &ev);
      }
    }
  }
  if (hooks.all_verified && !hooks.all_verified(result)) return failed("stopped once all were verified");
  return result;
}

}  // namespace sockit::test
