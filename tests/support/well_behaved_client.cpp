#include "support/well_behaved_client.hpp"

#include <algorithm>
#include <random>
#include <vector>

#include "sockit/connect.hpp"
#include "sockit/net/buffer.hpp"
#include "support/bytes.hpp"

namespace sockit::test {

using namespace std::chrono_literals;

WellBehavedClient::WellBehavedClient(const Address& server, WellBehavedOptions options) : options_(options) {
  thread_ = std::thread([this, server] { run(server); });
}

WellBehavedClient::~WellBehavedClient() { (void)finish(); }

WellBehavedResult WellBehavedClient::finish() {
  if (!finished_) {
    finished_ = true;
    stop_after_ = done_.load() + 2;  // the one under way may have begun before
    thread_.join();
  }
  return result_;
}

bool WellBehavedClient::wait_for_round_trips(int n, std::chrono::milliseconds limit) {
  std::unique_lock lock(mutex_);
  return progress_.wait_for(lock, limit, [&] { return done_.load() >= n || stopped_; }) && done_.load() >= n;
}

void WellBehavedClient::run(const Address& server) {
  run_round_trips(server);
  const std::lock_guard lock(mutex_);
  stopped_ = true;
  progress_.notify_all();
}

void WellBehavedClient::run_round_trips(const Address& server) {
  auto socket = connect(server, options_.deadline);
  if (!socket) {
    result_.error = "connect: " + socket.error().message();
    return;
  }
  std::mt19937_64 rng(options_.seed);
  std::uniform_int_distribution<std::size_t> size(1, 2048);
  std::vector<std::byte> back;
  for (int i = 0; i < options_.max_round_trips; ++i) {
    const int stop_after = stop_after_.load();
    if (stop_after >= 0 && i >= stop_after) break;
    net::Buffer wire;
    auto payload = random_bytes(size(rng), rng());
    if (options_.framing.kind == net::Framing::Kind::line) {
      std::replace(payload.begin(), payload.end(), options_.framing.delimiter, std::byte{'x'});
    }
    if (options_.framing.kind == net::Framing::Kind::raw) {
      wire.append(payload);
    } else if (!net::encode(options_.framing, payload, wire)) {
      result_.error = "encode";
      return;
    }
    const auto began = std::chrono::steady_clock::now();
    const Deadline deadline(options_.deadline);
    const std::string which = "round trip " + std::to_string(i) + ": ";
    if (auto sent = socket->send_all(wire.readable(), deadline); !sent) {
      result_.error = which + "send: " + sent.error().message();
      result_.bytes_lost += wire.size();
      return;
    }
    back.assign(wire.size(), std::byte{0});
    if (auto got = socket->recv_exact(back, deadline); !got) {
      result_.error = which + "receive: " + got.error().message();
      result_.bytes_lost += wire.size();
      return;
    }
    if (!std::equal(back.begin(), back.end(), wire.readable().begin())) {
      result_.error = which + "the echo differs";
      result_.bytes_lost += wire.size();
      return;
    }
    result_.slowest = std::max(result_.slowest, std::chrono::duration_cast<std::chrono::microseconds>(
                                                    std::chrono::steady_clock::now() - began));
    result_.bytes_verified += wire.size();
    ++result_.round_trips;
    {
      const std::lock_guard lock(mutex_);
      done_.store(result_.round_trips);
    }
    progress_.notify_all();
    std::this_thread::sleep_for(options_.pause);
  }
}

}  // namespace sockit::test
