// A load client for echo servers of length-prefixed frames, for tests: many
// connections, each sending a seeded sequence of random-sized frames with a
// window of them in flight, and checking that every byte comes back in order.
//
// It is written on raw non-blocking sockets and epoll, not on sockit's EventLoop,
// so a bug in the loop under test cannot hide itself in the client too. Frames
// are regenerated from the seed to verify the echo, so memory stays small
// however many frames are sent.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "sockit/address.hpp"

namespace sockit::test {

struct EchoLoad {
  int connections = 100;
  int frames_per_connection = 100;
  std::size_t max_payload = 1000;  // payload sizes are uniform in [1, max_payload]
  int window = 8;                  // frames in flight per connection
  std::uint64_t seed = 1;
  std::chrono::milliseconds time_limit{60000};
};

struct EchoLoadResult {
  std::uint64_t frames_verified = 0;
  std::uint64_t bytes_verified = 0;
  std::string error;  // empty on success: every frame of every connection came back intact
};

// Runs to completion, failure or the time limit; blocking, on the calling thread.
EchoLoadResult run_echo_load(const Address& server, const EchoLoad& load);

}  // namespace sockit::test
