// A `sockit listen ARGS...` child with its real address learned from the
// "listening on" line, and small helpers the listen/exec/timeout suites share.
#pragma once

#include <signal.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "cli_harness.hpp"

namespace sockit::test::cli {

struct ListenServer {
  explicit ListenServer(std::vector<std::string> args)
      : child([&] {
          args.insert(args.begin(), {sockit_bin(), "listen"});
          return args;
        }()) {
    address = child.listening_address().value_or("");
  }
  // SIGINT and the exit status (0 is a clean stop).
  Exit stop() {
    child.signal(SIGINT);
    return child.finish();
  }
  Process child;
  std::string address;  // empty if the server did not come up
};

// `size` bytes of every value (a fixed seed: a failure reproduces) in `path`.
inline std::string write_random_file(const std::string& path, std::size_t size) {
  std::mt19937 random(1234);
  std::string data(size, '\0');
  for (char& c : data) c = static_cast<char>(random() & 0xff);
  std::ofstream(path, std::ios::binary) << data;
  return data;
}

// Seconds since `start`, for timing assertions.
inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace sockit::test::cli
