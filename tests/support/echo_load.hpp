// A load client for echo servers of length-prefixed frames, for tests: many
// connections, each sending a seeded sequence of random-sized frames with a
// window of them in flight, and checking that every byte comes back in order.
//
// It is written on raw non-blocking sockets and epoll, not on sockit's EventLoop,
// so a bug in the loop under test cannot hide itself in the client too. Frames
// are regenerated from the seed to verify the echo, so memory stays small
// however many frames are sent.
//
// Every connection is made before the first frame is sent and stays open until
// every frame of every connection is verified, so all of them are open at once;
// the two hooks let a caller look at the server at both of those moments.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
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
  // The most one connect may take. A Unix connect whose server backlog is full
  // (EAGAIN) is retried after a short pause until then (sockit::connect does).
  std::chrono::milliseconds connect_timeout{5000};
};

struct EchoLoadResult {
  int connections_open = 0;  // connections made (all open at once)
  std::uint64_t frames_verified = 0;
  std::uint64_t bytes_verified = 0;
  std::string error;  // empty on success: every frame of every connection came back intact
};

// Optional callbacks, run on the calling thread with every connection open. One
// returning false ends the run with an error (its reason is the caller's to report).
struct EchoLoadHooks {
  // Once every connection is made, before the first frame is sent.
  std::function<bool(const EchoLoadResult&)> all_connected;
  // Once every frame of every connection is verified, before any connection closes.
  std::function<bool(const EchoLoadResult&)> all_verified;
};

// Runs to completion, failure or the time limit; blocking, on the calling thread.
EchoLoadResult run_echo_load(const Address& server, const EchoLoad& load, const EchoLoadHooks& hooks = {});

}  // namespace sockit::test
