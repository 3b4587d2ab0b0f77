// A simulated network between two rudp::EndpointCores, in simulated time, for
// the reliable-UDP tests: every datagram either endpoint emits is lost,
// duplicated, delayed (with jitter) or held back (reordered) by a seeded random
// generator, then delivered at its time. Time jumps from event to event (the
// next delivery or the next endpoint timeout), so a 30-second transfer under 20%
// loss takes milliseconds of real time and no test sleeps. Same seed, same run.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <queue>
#include <random>
#include <vector>

#include "sockit/rudp/endpoint_core.hpp"

namespace sockit::test {

struct SimFaults {
  double loss = 0;       // probability a datagram is dropped
  double duplicate = 0;  // probability it is delivered twice
  double reorder = 0;    // probability it is held back by an extra 1..3 x delay
  rudp::Duration delay = std::chrono::milliseconds(10);  // one way
  rudp::Duration jitter{0};                               // + uniform [0, jitter)
};

class SimNetwork {
 public:
  static constexpr std::size_t kBufferSize = 65536;

  SimNetwork(rudp::EndpointCore& a, rudp::EndpointCore& b, SimFaults faults, std::uint64_t seed)
      : ends_{&a, &b}, faults_(faults), rng_(seed), buffer_(kBufferSize) {
    const std::byte a_bytes[] = {std::byte{10}, std::byte{0}, std::byte{0}, std::byte{1}, std::byte{0x30}, std::byte{0x39}};
    const std::byte b_bytes[] = {std::byte{10}, std::byte{0}, std::byte{0}, std::byte{2}, std::byte{0x1f}, std::byte{0x90}};
    addresses_[0] = *rudp::PeerAddress::from(a_bytes);
    addresses_[1] = *rudp::PeerAddress::from(b_bytes);
  }

  rudp::Instant now() const { return now_; }
  const rudp::PeerAddress& address(int side) const { return addresses_[side]; }
  SimFaults& faults() { return faults_; }
  // Drops everything `side` sends from now on (a dead or cut-off peer).
  void blackhole(int side) { blackholed_[side] = true; }
  std::uint64_t delivered() const { return delivered_; }

  // Puts a datagram on the wire as if `from_side` had sent it, from `from`
  // (a spoofed source when it is not that side's address).
  void inject(int to_side, const rudp::PeerAddress& from, std::vector<std::byte> bytes) {
    queue_.push(InFlight{now_, seq_++, to_side, from, std::move(bytes)});
  }

  // One step: everything both endpoints want to send goes on the wire, then time
  // advances to the next event and it happens. False when nothing is left to happen.
  bool step() {
    const auto next = flush_and_find_next();
    if (!next) return false;
    now_ = std::max(now_, *next);
    while (!queue_.empty() && queue_.top().deliver <= now_) {
      InFlight p = queue_.top();
      queue_.pop();
      ++delivered_;
      ends_[p.to]->on_datagram(p.from, p.bytes, now_);
    }
    for (auto* end : ends_) {
      if (auto t = end->next_timeout(); t && *t <= now_) end->on_timer(now_);
    }
    return true;
  }

  // Steps until `done()` or `limit` of simulated time has passed; true if done.
  // A run whose time stops advancing (an endpoint asking for a timer in the past
  // again and again) is a bug: it ends the run (livelocked() says so).
  bool run_until(const std::function<bool()>& done, rudp::Duration limit) {
    const rudp::Instant end = now_ + limit;
    rudp::Instant last = now_;
    int still = 0;
    while (!done()) {
      if (now_ >= end || !step()) return done();
      still = now_ == last ? still + 1 : 0;
      last = now_;
      if (still > 100'000) {
        livelocked_ = true;
        return false;
      }
    }
    return true;
  }
  bool livelocked() const { return livelocked_; }

  // Lets simulated time pass (events happen as they come due), calling
  // `each_step` after every event.
  void run_for(rudp::Duration span, const std::function<void()>& each_step = {}) {
    const rudp::Instant end = now_ + span;
    for (int still = 0;; ) {
      const auto next = flush_and_find_next();
      if (!next || *next > end) {
        now_ = end;
        return;
      }
      const rudp::Instant before = now_;
      step();
      if (each_step) each_step();
      still = now_ == before ? still + 1 : 0;
      if (still > 100'000) {
        livelocked_ = true;
        return;
      }
    }
  }

  // Sees every datagram an endpoint emits (before faults apply).
  std::function<void(int side, std::span<const std::byte>)> tap;

 private:
  struct InFlight {
    rudp::Instant deliver;
    std::uint64_t seq;  // ties in delivery time keep send order
    int to;
    rudp::PeerAddress from;
    std::vector<std::byte> bytes;
    bool operator>(const InFlight& o) const { return deliver != o.deliver ? deliver > o.deliver : seq > o.seq; }
  };

  // Puts what both ends want to send on the wire; returns when the next thing
  // happens (a delivery or a timeout), if anything is left to happen.
  std::optional<rudp::Instant> flush_and_find_next() {
    flush(0);
    flush(1);
    std::optional<rudp::Instant> next;
    if (!queue_.empty()) next = queue_.top().deliver;
    for (auto* end : ends_) {
      if (auto t = end->next_timeout(); t && (!next || *t < *next)) next = *t;
    }
    return next;
  }

  void flush(int side) {
    while (auto t = ends_[side]->poll_transmit(now_, buffer_)) {
      if (tap) tap(side, std::span(buffer_).first(t->size));
      if (blackholed_[side] || chance(faults_.loss)) continue;
      const int copies = chance(faults_.duplicate) ? 2 : 1;
      for (int i = 0; i < copies; ++i) {
        rudp::Duration d = faults_.delay;
        if (faults_.jitter.count() > 0) d += rudp::Duration(rng_() % faults_.jitter.count());
        if (chance(faults_.reorder)) d += faults_.delay * (1 + rng_() % 3);
        queue_.push(InFlight{now_ + d, seq_++, 1 - side, addresses_[side],
                             std::vector<std::byte>(buffer_.begin(), buffer_.begin() + t->size)});
      }
    }
  }

  bool chance(double p) { return p > 0 && std::uniform_real_distribution<double>(0, 1)(rng_) < p; }

  rudp::EndpointCore* ends_[2];
  rudp::PeerAddress addresses_[2];
  SimFaults faults_;
  std::mt19937_64 rng_;
  std::vector<std::byte> buffer_;
  std::priority_queue<InFlight, std::vector<InFlight>, std::greater<>> queue_;
  std::uint64_t seq_ = 0;
  std::uint64_t delivered_ = 0;
  rudp::Instant now_{std::chrono::seconds(1000)};
  bool blackholed_[2] = {false, false};
  bool livelocked_ = false;
};

// A client endpoint (side 0) and a server endpoint (side 1) on one SimNetwork.
struct RudpPair {
  std::unique_ptr<rudp::EndpointCore> client;
  std::unique_ptr<rudp::EndpointCore> server;
  std::unique_ptr<SimNetwork> net;
  rudp::ConnectionCore* client_connection = nullptr;
  rudp::ConnectionCore* server_connection = nullptr;

  RudpPair(const rudp::EndpointConfig& client_config, rudp::EndpointConfig server_config, SimFaults faults,
           std::uint64_t seed) {
    server_config.accept = true;
    server_config.seed = {seed, ~seed};
    rudp::EndpointConfig c = client_config;
    c.seed = {seed ^ 0x5555, seed + 1};
    client = std::move(*rudp::EndpointCore::create(c));
    server = std::move(*rudp::EndpointCore::create(server_config));
    net = std::make_unique<SimNetwork>(*client, *server, faults, seed);
  }

  // Connects and runs until both sides report the connection open.
  bool handshake(rudp::Duration limit = std::chrono::seconds(60)) {
    auto c = client->connect(net->address(1), net->now());
    if (!c) return false;
    client_connection = *c;
    return net->run_until(
        [&] {
          take_events();
          return client_connection != nullptr && server_connection != nullptr && opened_client && opened_server;
        },
        limit);
  }

  // Records what the endpoints report (a closed connection's error included).
  void take_events() {
    while (auto e = client->poll_event()) {
      if (e->kind == rudp::EndpointEvent::Kind::connected) opened_client = true;
      if (e->kind == rudp::EndpointEvent::Kind::closed) client_closed = e->error;
    }
    while (auto e = server->poll_event()) {
      if (e->kind == rudp::EndpointEvent::Kind::accepted) {
        opened_server = true;
        server_connection = e->connection;
      }
      if (e->kind == rudp::EndpointEvent::Kind::closed) server_closed = e->error;
    }
  }

  bool opened_client = false;
  bool opened_server = false;
  std::optional<std::error_code> client_closed;
  std::optional<std::error_code> server_closed;
};

}  // namespace sockit::test
