// Passing an open file to another process over a Unix socket (SCM_RIGHTS), and
// asking who is on the other end (SO_PEERCRED). The parent opens a file the child
// has no name for, sends the descriptor with one byte of data (a stream socket
// drops ancillary data sent alone), and the child reads the file through it.
// Usage: pass_descriptor
#include <fcntl.h>
#include <sockit/ancillary.hpp>
#include <sockit/socket_pair.hpp>
#include <sockit/sockit.hpp>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

using namespace std::chrono_literals;

int main() {
  auto pair = sockit::stream_socket_pair();
  if (!pair) return std::fprintf(stderr, "socketpair: %s\n", pair.error().message().c_str()), 1;

  const pid_t child = ::fork();
  if (child < 0) return std::perror("fork"), 1;
  if (child == 0) {
    pair->first.close();
    std::byte tag{};
    auto received = sockit::recv_fds(pair->second, std::span(&tag, 1), 1, 2s);
    if (!received || received->fds.size() != 1) ::_exit(3);
    auto peer = sockit::peer_credentials(pair->second);
    char text[128] = {};
    const ssize_t n = ::pread(received->fds[0].get(), text, sizeof text - 1, 0);
    std::printf("child: got a descriptor from pid %d (uid %u); the file says: %.*s", peer ? peer->pid : -1,
                peer ? peer->uid : 0U, static_cast<int>(n > 0 ? n : 0), text);
    std::fflush(stdout);
    ::_exit(n > 0 ? 0 : 4);
  }
  pair->second.close();

  // A file with no name left: only its descriptor can reach it.
  char path[] = "/tmp/sockit-pass-XXXXXX";
  sockit::Fd file(::mkstemp(path));
  if (!file) return std::perror("mkstemp"), 1;
  ::unlink(path);
  const char content[] = "written by the parent before the fd was passed\n";
  if (::write(file.get(), content, std::strlen(content)) < 0) return std::perror("write"), 1;

  const std::byte tag{'F'};
  const int fds[] = {file.get()};
  if (auto sent = sockit::send_fds(pair->first, std::span(&tag, 1), fds, 2s); !sent) {
    return std::fprintf(stderr, "send_fds: %s\n", sent.error().message().c_str()), 1;
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  std::printf("parent: child exited with %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
