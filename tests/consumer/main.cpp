// A program that uses libsockit the way an outside project would: only the
// installed headers, linked through find_package(sockit), pkg-config or
// add_subdirectory (scripts/test-consumer.sh builds it all three ways and checks
// what it prints). It touches the core layer (a socket pair) and the event layer
// (a loop and a timer), so a static link needs liburing and threads as well.
#include <sockit/event/event_loop.hpp>
#include <sockit/socket_pair.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <string_view>

using namespace std::chrono_literals;

int main() {
  auto pair = sockit::stream_socket_pair();
  if (!pair) return std::fprintf(stderr, "consumer: socketpair: %s\n", pair.error().message().c_str()), 1;
  auto& [left, right] = *pair;
  if (auto sent = left.send_all("ping", 1s); !sent) {
    return std::fprintf(stderr, "consumer: send: %s\n", sent.error().message().c_str()), 1;
  }
  std::array<std::byte, 4> buffer{};
  if (auto received = right.recv_exact(buffer, 1s); !received) {
    return std::fprintf(stderr, "consumer: recv: %s\n", received.error().message().c_str()), 1;
  }
  std::printf("socketpair: %.*s\n", static_cast<int>(buffer.size()), reinterpret_cast<const char*>(buffer.data()));

  auto loop = sockit::event::EventLoop::create();
  if (!loop) return std::fprintf(stderr, "consumer: event loop: %s\n", loop.error().message().c_str()), 1;
  bool fired = false;
  sockit::event::TimerHandle timer = (*loop)->run_after(1ms, [&] {
    fired = true;
    (*loop)->stop();
  });
  // The timer stops the loop; the guard bounds the run if it never fires.
  sockit::event::TimerHandle guard = (*loop)->run_after(5s, [&] { (*loop)->stop(); });
  (*loop)->run();
  if (!fired) return std::fprintf(stderr, "consumer: the timer did not fire within 5 s\n"), 1;
  std::printf("event loop: timer fired (%s)\n", (*loop)->backend().name.c_str());
  return 0;
}
