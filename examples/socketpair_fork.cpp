// socketpair_fork: a parent and its forked child talk over one socket pair, both ways.
//
// The parent sends a greeting and half-closes; the child reads to end of stream,
// prints it and replies on the same socket; the parent prints the reply and reaps
// the child. A pipe carries one direction only; one socket pair carries both.
//
// What the textbook version glosses over:
//  - each process closes the end it does not use. The reply's end of stream reaches
//    the parent only when *every* descriptor of the child's end is closed, including
//    the copy the parent inherited at fork; keep it and the parent would wait forever.
//  - shutdown(write) ends the greeting for the child whoever still holds descriptors,
//    because it acts on the socket, not on one descriptor.
//  - stdout is flushed before fork, or its buffer would be printed twice.
//  - the child leaves with _exit, after flushing: it must not run the parent's atexit work.
//  - every receive has a deadline, and the child's exit status is checked, not ignored.
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <iostream>
#include <string>

#include "sockit/sockit.hpp"

using namespace std::chrono_literals;

namespace {

// Everything up to the peer's end of stream, at most 4 KiB.
sockit::Result<std::string> read_to_end(sockit::StreamSocket& socket, sockit::Deadline deadline) {
  std::string text;
  std::array<std::byte, 1024> chunk{};
  for (;;) {
    auto n = socket.recv_some(chunk, deadline);
    if (!n) return sockit::fail(n.error());
    if (*n == 0) return text;
    if (text.size() + *n > 4096) return sockit::fail(std::make_error_code(std::errc::message_size));
    text.append(reinterpret_cast<const char*>(chunk.data()), *n);
  }
}

int report(const char* who, const std::string& what, std::error_code ec) {
  std::cerr << "socketpair_fork (" << who << "): " << what << ": " << ec.message() << std::endl;
  return 1;
}

int run_child(sockit::StreamSocket& socket) {
  const sockit::Deadline deadline = sockit::Deadline::after(10s);
  auto greeting = read_to_end(socket, deadline);
  if (!greeting) return report("child", "receive", greeting.error());
  std::cout << "child received: " << *greeting << std::endl;
  if (auto s = socket.send_all("hello from the child", deadline); !s)
    return report("child", "send", s.error());
  return 0;  // _exit closes the child's end: the parent sees end of stream
}

int run_parent(sockit::StreamSocket& socket) {
  const sockit::Deadline deadline = sockit::Deadline::after(10s);
  if (auto s = socket.send_all("hello from the parent", deadline); !s)
    return report("parent", "send", s.error());
  if (auto s = socket.shutdown(sockit::ShutdownHow::write); !s)
    return report("parent", "shutdown", s.error());
  auto reply = read_to_end(socket, deadline);
  if (!reply) return report("parent", "receive", reply.error());
  std::cout << "parent received: " << *reply << std::endl;
  return 0;
}

}  // namespace

int main() {
  auto pair = sockit::stream_socket_pair();
  if (!pair) return report("parent", "socketpair", pair.error());
  auto& [parent_end, child_end] = *pair;

  std::cout.flush();
  const pid_t pid = ::fork();
  if (pid < 0) return report("parent", "fork", {errno, std::system_category()});
  if (pid == 0) {
    parent_end.close();
    const int code = run_child(child_end);
    std::cout.flush();
    ::_exit(code);
  }
  child_end.close();
  const int code = run_parent(parent_end);
  parent_end.close();  // if we failed early, this lets a waiting child see end of stream

  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return report("parent", "waitpid", {errno, std::system_category()});
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::cerr << "socketpair_fork: the child failed (wait status " << status << ")" << std::endl;
    return 1;
  }
  return code;
}
