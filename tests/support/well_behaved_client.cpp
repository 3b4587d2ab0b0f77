#include "support/well_behaved_client.hpp"

#include <algorithm>
#include <random>
#include <vector>

#include "sockit/connect.hpp"
#include "sockit/net/buffer.hpp"
#include "support/bytes.hpp"

namespace sockit::test {

using namespace std::chrono_literals;

// --- RoundTripClient ----------------------------------------------------------------

RoundTripClient::~RoundTripClient() { (void)finish(); }

void RoundTripClient::start(std::function<void()> body) {
  thread_ = std::thread([this, body = std::move(body)] {
    body();
    const std::lock_guard lock(mutex_);
    stopped_ = true;
    progress_.notify_all();
  });
}

WellBehavedResult RoundTripClient::finish() {
  if (!finished_) {
    finished_ = true;
    stop_after_ = done_.load() + 2;  // the one under way may have begun before
    if (thread_.joinable()) thread_.join();
  }
  return result_;
}

bool RoundTripClient::wait_for_round_trips(int n, std::chrono::milliseconds limit) {
  std::unique_lock lock(mutex_);
  return progress_.wait_for(lock, limit, [&] { return done_.load() >= n || stopped_; }) && done_.load() >= n;
}

bool RoundTripClient::keep_going(int i, int max_round_trips) const {
  const int stop_after = stop_after_.load();
  return i < max_round_trips && (stop_after < 0 || i < stop_after);
}

void RoundTripClient::counted() {
  {
    const std::lock_guard lock(mutex_);
    done_.store(result_.round_trips);
  }
  progress_.notify_all();
}

// --- WellBehavedClient --------------------------------------------------------------

WellBehavedClient::WellBehavedClient(const Address& server, WellBehavedOptions options) : options_(options) {
  start([this, server] { run_round_trips(server); });
}

WellBehavedClient::~WellBehavedClient() { (void)finish(); }

void WellBehavedClient::run_round_trips(const Address& server) {
  WellBehavedResult& result = this->result();
  auto socket = connect(server, options_.deadline);
  if (!socket) {
    result.error = "connect: " + socket.error().message();
    return;
  }
  std::mt19937_64 rng(options_.seed);
  std::uniform_int_distribution<std::size_t> size(1, 2048);
  std::vector<std::byte> back;
  for (int i = 0; keep_going(i, options_.max_round_trips); ++i) {
    net::Buffer wire;
    auto payload = random_bytes(size(rng), rng());
    if (options_.framing.kind == net::Framing::Kind::line) {
      std::replace(payload.begin(), payload.end(), options_.framing.delimiter, std::byte{'x'});
    }
    if (options_.framing.kind == net::Framing::Kind::raw) {
      wire.append(payload);
    } else if (!net::encode(options_.framing, payload, wire)) {
      result.error = "encode";
      return;
    }
    const auto began = std::chrono::steady_clock::now();
    const Deadline deadline(options_.deadline);
    const std::string which = "round trip " + std::to_string(i) + ": ";
    if (auto sent = socket->send_all(wire.readable(), deadline); !sent) {
      result.error = which + "send: " + sent.error().message();
      result.bytes_lost += wire.size();
      return;
    }
    back.assign(wire.size(), std::byte{0});
    if (auto got = socket->recv_exact(back, deadline); !got) {
      result.error = which + "receive: " + got.error().message();
      result.bytes_lost += wire.size();
      return;
    }
    if (!std::equal(back.begin(), back.end(), wire.readable().begin())) {
      result.error = which + "the echo differs";
      result.bytes_lost += wire.size();
      return;
    }
    result.slowest = std::max(result.slowest, std::chrono::duration_cast<std::chrono::microseconds>(
                                                  std::chrono::steady_clock::now() - began));
    result.bytes_verified += wire.size();
    ++result.round_trips;
    counted();
    std::this_thread::sleep_for(options_.pause);
  }
}

}  // namespace sockit::test
