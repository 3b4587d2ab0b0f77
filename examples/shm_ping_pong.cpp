// Two processes exchanging messages through shared memory (sockit::ShmRing): the
// parent creates the ring over a socket pair, the child joins it and answers each
// ping; then the parent closes and the child sees the end of the stream.
// Usage: shm_ping_pong [ROUND_TRIPS]   (default 10000)
#include <sockit/shm_ring.hpp>
#include <sockit/socket_pair.hpp>
#include <sockit/sockit.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>

using namespace std::chrono_literals;

int main(int argc, char** argv) {
  const long rounds = argc > 1 ? std::strtol(argv[1], nullptr, 10) : 10000;
  if (rounds <= 0) return std::fprintf(stderr, "usage: shm_ping_pong [ROUND_TRIPS > 0]\n"), 2;
  auto pair = sockit::stream_socket_pair();
  if (!pair) return std::fprintf(stderr, "socketpair: %s\n", pair.error().message().c_str()), 1;

  const pid_t child = ::fork();
  if (child < 0) return std::perror("fork"), 1;
  if (child == 0) {
    pair->first.close();
    auto ring = sockit::ShmRing::join(std::move(pair->second), 5s);
    if (!ring) ::_exit(3);
    std::array<std::byte, 256> buffer{};
    for (;;) {
      auto size = ring->receive(buffer, 10s);
      if (!size) ::_exit(size.error() == sockit::errc::end_of_stream ? 0 : 4);
      if (!ring->send(std::span(buffer).first(*size), 10s)) ::_exit(5);
    }
  }
  pair->second.close();

  auto ring = sockit::ShmRing::create(std::move(pair->first), {.capacity = 64 * 1024}, 5s);
  if (!ring) return std::fprintf(stderr, "ShmRing::create: %s\n", ring.error().message().c_str()), 1;
  std::array<std::byte, 64> ping{};
  std::array<std::byte, 256> pong{};
  const auto started = std::chrono::steady_clock::now();
  for (long i = 0; i < rounds; ++i) {
    ping[0] = static_cast<std::byte>(i);
    if (auto sent = ring->send(ping, 5s); !sent) return std::fprintf(stderr, "send: %s\n", sent.error().message().c_str()), 1;
    auto size = ring->receive(pong, 5s);
    if (!size || *size != ping.size() || pong[0] != ping[0]) return std::fprintf(stderr, "bad pong at %ld\n", i), 1;
  }
  const auto elapsed = std::chrono::steady_clock::now() - started;
  ring->close();
  int status = 0;
  ::waitpid(child, &status, 0);
  const double us = std::chrono::duration<double, std::micro>(elapsed).count() / static_cast<double>(rounds);
  std::printf("%ld round trips of 64 bytes through shared memory, %.2f us each on average\n", rounds, us);
  std::printf("child saw the end of the stream and exited with %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
