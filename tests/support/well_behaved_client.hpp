// WellBehavedClient: the client a hostile-client test keeps running beside the
// attack, to show that the server goes on serving the rest of the world.
//
// On one connection, on a thread of its own, it makes echo round trips of seeded
// random payloads (1..2048 bytes, framed as the server frames them: the echo of a
// length-prefixed frame is the same bytes on the wire, and so is a raw echo), each
// with a deadline, and checks every byte that comes back. It stops at the first
// failure, at max_round_trips, or when finish() asks — after one more round trip
// begun after the request, so that service after the attack is shown too.
// (WellBehavedDatagramClient, support/well_behaved_datagram_client.hpp, is its
// datagram sibling; RoundTripClient is what the two share.)
//
// It is written on sockit's blocking StreamSocket (no EventLoop), so the loop
// under test cannot hide its own bug in the client.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include "sockit/address.hpp"
#include "sockit/net/framing.hpp"

namespace sockit::test {

struct WellBehavedOptions {
  net::Framing framing = net::Framing::length_prefix();  // any kind (lines: no delimiter inside)
  // Each round trip's deadline: beyond it the server has failed to serve.
  std::chrono::milliseconds deadline{3000};
  std::chrono::milliseconds pause{2};  // between round trips: a client, not a load
  int max_round_trips = 20000;
  std::uint64_t seed = 42;
};

struct WellBehavedResult {
  int round_trips = 0;  // each verified byte for byte
  std::uint64_t bytes_verified = 0;
  std::uint64_t bytes_lost = 0;  // sent but not echoed intact (0 unless error is set)
  std::chrono::microseconds slowest{0};
  // Datagram clients only: requests sent again because no reply came in time.
  std::optional<int> resends;
  std::string error;  // empty: every round trip succeeded by its deadline
};

// The thread, progress and stop of a well-behaved client, whatever it speaks. A
// derived client calls start() with its round trips at the end of its constructor
// and finish() first thing in its destructor (its members die before this part).
class RoundTripClient {
 public:
  RoundTripClient(const RoundTripClient&) = delete;
  RoundTripClient& operator=(const RoundTripClient&) = delete;

  [[nodiscard]] int round_trips() const { return done_.load(); }
  // Waits (at most `limit`) until `n` round trips are done; false if the client
  // stopped or the time passed first.
  [[nodiscard]] bool wait_for_round_trips(int n, std::chrono::milliseconds limit = std::chrono::seconds(10));
  // Stops after one more round trip (begun after this call) and returns the tally.
  WellBehavedResult finish();

 protected:
  RoundTripClient() = default;
  ~RoundTripClient();

  // Runs `body` on the client's thread. The body makes round trip i while
  // keep_going(i), fills result(), and calls counted() after each verified one.
  void start(std::function<void()> body);
  [[nodiscard]] bool keep_going(int i, int max_round_trips) const;
  void counted();
  WellBehavedResult& result() { return result_; }

 private:
  std::atomic<int> done_{0};
  std::mutex mutex_;  // with progress_: wakes wait_for_round_trips
  std::condition_variable progress_;
  bool stopped_ = false;  // guarded by mutex_
  std::atomic<int> stop_after_{-1};  // round trips to reach before stopping; -1: go on
  WellBehavedResult result_;
  std::thread thread_;
  bool finished_ = false;
};

class WellBehavedClient : public RoundTripClient {
 public:
  // Connects (within `deadline`) and starts the round trips.
  WellBehavedClient(const Address& server, WellBehavedOptions options = {});
  ~WellBehavedClient();  // finish() if not yet done

 private:
  void run_round_trips(const Address& server);

  WellBehavedOptions options_;
};

}  // namespace sockit::test
