// Small helpers shared by the bench programs (echo_load, idle_rss): address
// parsing and connecting on raw sockets, and the descriptor limit. Deliberately
// not libsockit, so the programs measure the servers and not the library.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

namespace bench {

struct Target {
  sockaddr_storage addr{};
  socklen_t len = 0;
  bool tcp = false;
};

[[noreturn]] inline void fail(const std::string& why) {
  std::fprintf(stderr, "bench: %s\n", why.c_str());
  std::exit(1);
}

// unix:PATH or tcp://IPV4:PORT (the forms `sockit echo` and c_epoll_echo print).
inline Target parse_target(std::string_view text) {
  Target t;
  if (text.starts_with("unix:")) {
    auto* un = reinterpret_cast<sockaddr_un*>(&t.addr);
    un->sun_family = AF_UNIX;
    const std::string path(text.substr(5));
    if (path.size() >= sizeof un->sun_path) fail("unix path too long: " + path);
    std::memcpy(un->sun_path, path.c_str(), path.size() + 1);
    t.len = sizeof(sockaddr_un);
  } else if (text.starts_with("tcp://")) {
    auto* in = reinterpret_cast<sockaddr_in*>(&t.addr);
    const std::string_view rest = text.substr(6);
    const auto colon = rest.rfind(':');
    if (colon == std::string_view::npos) fail("tcp address needs :PORT: " + std::string(text));
    const std::string host(rest.substr(0, colon));
    in->sin_family = AF_INET;
    in->sin_port = htons(static_cast<std::uint16_t>(std::atoi(std::string(rest.substr(colon + 1)).c_str())));
    if (inet_pton(AF_INET, host.c_str(), &in->sin_addr) != 1) fail("not an IPv4 address: " + host);
    t.len = sizeof(sockaddr_in);
    t.tcp = true;
  } else {
    fail("address must be unix:PATH or tcp://IPV4:PORT, not " + std::string(text));
  }
  return t;
}

// A blocking connect (a Unix connect waits while the backlog is full instead of
// failing), then the socket is made non-blocking if asked. -1 on failure.
inline int connect_to(const Target& t, bool nonblocking) {
  const int fd = ::socket(t.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int r;
  do r = ::connect(fd, reinterpret_cast<const sockaddr*>(&t.addr), t.len);
  while (r < 0 && errno == EINTR);
  if (r < 0) {
    const int saved = errno;
    ::close(fd);
    errno = saved;
    return -1;
  }
  if (t.tcp) {
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  if (nonblocking) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

// Soft RLIMIT_NOFILE up to the hard limit; returns the new soft limit.
inline rlim_t raise_fd_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  rl.rlim_cur = rl.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &rl);
  ::getrlimit(RLIMIT_NOFILE, &rl);
  return rl.rlim_cur;
}

}  // namespace bench
