// The fault model of `sockit relay`: what happens to each datagram (lost,
// duplicated, held back for reordering, delayed) and when each stream chunk may
// go on (delayed, paced to a rate). Pure: it is told the time and draws from its
// own seeded generator, so a run with the same --seed (and the same traffic)
// makes the same decisions, and the statistics are unit-tested with a fixed seed.
//
// One FaultLine per direction of each client (see line_seed): directions draw
// independently, so a reply does not shift the losses of the requests.
//
// The model, in the order it is applied to one datagram:
//  - loss: runs of exactly `loss_burst` datagrams are lost (1: independent
//    losses). A datagram that is not inside a run starts one with probability
//    q = P / (N (1 - P) + P), which makes the long-run fraction lost exactly P
//    (renewal: a run costs N datagrams, a pass costs one). This is the
//    "N consecutive" special case of Gilbert-Elliott: no loss in the good state,
//    certain loss for N datagrams in the bad one.
//  - rate: a token bucket of kRateBucketBytes (GCRA): bursts up to the bucket go
//    at once, the long-run rate is `rate_bps`. A datagram or chunk leaves when
//    the bucket holds its bytes.
//  - delay and jitter: each one is held delay + U(-jitter, +jitter) (never below
//    zero). Datagrams with jitter can overtake one another (as with netem);
//    stream chunks never do: a chunk leaves no earlier than the one before it.
//  - duplicate: with probability P the datagram is sent twice.
//  - reorder: with probability P the datagram is held back and sent right after
//    the next datagram of its direction (or after kReorderHold if none comes).
// Probabilities come from the top 53 bits of a std::mt19937_64 (seeded with
// splitmix64 of the seed and the line), so they are the same on every platform.
//
// Threads: a FaultLine belongs to one direction of one client, on one loop.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <random>

namespace sockit::cli {

inline constexpr std::size_t kRateBucketBytes = 64 * 1024;
inline constexpr std::chrono::milliseconds kReorderHold{100};

struct FaultOptions {
  double loss = 0;          // probability in [0, 1]
  unsigned loss_burst = 1;  // losses come in runs of this many
  std::chrono::microseconds delay{0};
  std::chrono::microseconds jitter{0};
  double duplicate = 0;  // probability in [0, 1]
  double reorder = 0;    // probability in [0, 1]
  double rate_bps = 0;   // bits per second; 0: unlimited
  std::uint64_t seed = 0;

  // Whether chunks or datagrams may have to wait (delay, jitter or rate): without,
  // the relay forwards at once and keeps no queue.
  [[nodiscard]] bool delays() const { return delay.count() > 0 || jitter.count() > 0 || rate_bps > 0; }
};

// A seed of its own for line `line` (client number x 2 + direction) of a run.
[[nodiscard]] std::uint64_t line_seed(std::uint64_t seed, std::uint64_t line);

class FaultLine {
 public:
  using Clock = std::chrono::steady_clock;

  FaultLine(const FaultOptions& options, std::uint64_t seed);

  struct DatagramFate {
    bool lost = false;
    bool duplicated = false;
    bool reordered = false;  // hold back until the next datagram of this line has gone
    Clock::time_point release;  // when to send it (now if nothing delays it)
  };
  // The fate of a datagram of `size` bytes that arrived at `now`.
  [[nodiscard]] DatagramFate datagram(std::size_t size, Clock::time_point now);
  // When a stream chunk of `size` bytes that arrived at `now` may go on: never
  // before the previous chunk's time, so bytes keep their order.
  [[nodiscard]] Clock::time_point chunk(std::size_t size, Clock::time_point now);

 private:
  [[nodiscard]] double uniform();  // [0, 1)
  [[nodiscard]] bool chance(double p) { return p > 0 && uniform() < p; }
  [[nodiscard]] bool lose();
  [[nodiscard]] Clock::time_point shaped(std::size_t size, Clock::time_point now);
  [[nodiscard]] Clock::duration latency();

  FaultOptions options_;
  double burst_start_ = 0;  // q above
  unsigned burst_left_ = 0;
  std::mt19937_64 random_;
  Clock::time_point rate_tat_{};     // GCRA's theoretical arrival time
  Clock::time_point last_release_{};  // streams: chunks keep their order
};

}  // namespace sockit::cli
