// Admission control for a Server (internal): the connection cap, the per-peer cap
// and the accept-rate token bucket, shared by all worker threads.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "sockit/net/server.hpp"

namespace sockit::net {

enum class Verdict { admit, max_connections, per_peer, rate };

class Admission {
 public:
  explicit Admission(const ServerOptions& options);
  // Decides for one new connection from `peer`; on admit, the caller must call
  // release(peer) when that connection ends.
  Verdict admit(const std::string& peer);
  void release(const std::string& peer);
  [[nodiscard]] std::size_t active() const;
  // Before any admit(): the backend serves fewer (Server::create, select).
  void lower_max_connections(std::size_t cap) { max_connections_ = std::min(max_connections_, cap); }

 private:
  bool take_token(std::chrono::steady_clock::time_point now);

  std::size_t max_connections_;  // lowered only before the server starts
  const std::size_t max_per_peer_;
  const double rate_;
  const double burst_;
  mutable std::mutex mutex_;
  std::size_t active_ = 0;
  std::unordered_map<std::string, std::size_t> per_peer_;
  double tokens_;
  std::chrono::steady_clock::time_point refilled_ = std::chrono::steady_clock::now();
};

}  // namespace sockit::net
