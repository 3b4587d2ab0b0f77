// The datagram half of `sockit relay` (udp://, unix-dgram:): every datagram a
// client sends to FROM goes to TO from a socket of that client's own (connected
// to TO), so each reply TO sends back maps to its client and goes back from FROM.
//
// Clients are keyed by their address. A client that sends nothing and gets no
// reply for idle_timeout is forgotten (its upstream socket closed); beyond
// max_clients a new client's datagrams are dropped and counted as refused. An
// unbound Unix sender has no address to reply to: its datagrams are dropped and
// counted. Each direction of each client has its own FaultLine (faults.hpp) and
// a delay queue bounded by kRelayQueueBytes: beyond it a datagram is dropped, as
// a router's full queue would.
//
// Threads: one event loop, the caller's (loop thread only).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include "faults.hpp"
#include "sockit/event/event_loop.hpp"
#include "sockit/net/datagram_endpoint.hpp"

namespace sockit::cli {

struct DatagramRelayOptions {
  Address to;  // numeric
  DatagramBindOptions bind;  // FROM's socket: its file's mode and owner, the bind retry
  FaultOptions faults;
  std::size_t max_clients = 1024;
  std::chrono::milliseconds idle_timeout{60000};
  std::size_t max_datagram = 64 * 1024;
};

struct DatagramRelayStats {
  std::uint64_t clients = 0;  // seen in all
  std::uint64_t clients_expired = 0;
  std::uint64_t clients_refused = 0;  // over max_clients (their datagrams, counted in dropped too)
  std::uint64_t datagrams_up = 0;     // sent to TO
  std::uint64_t datagrams_down = 0;   // sent back to clients
  std::uint64_t bytes_up = 0;
  std::uint64_t bytes_down = 0;
  std::uint64_t lost = 0;  // by --loss
  std::uint64_t duplicated = 0;
  std::uint64_t reordered = 0;
  std::uint64_t dropped = 0;  // queue full, refused by the kernel, no client, truncated
};

class DatagramRelay {
 public:
  [[nodiscard]] static Result<std::unique_ptr<DatagramRelay>> create(event::EventLoop& loop,
                                                                    const Address& from,
                                                                    DatagramRelayOptions options);
  ~DatagramRelay();

  [[nodiscard]] Result<Address> local_address() const { return listener_->local_address(); }
  [[nodiscard]] const DatagramRelayStats& stats() const { return stats_; }
  [[nodiscard]] std::size_t active_clients() const { return clients_.size(); }

  struct Client;  // internal
  struct Line;    // internal

 private:
  DatagramRelay(event::EventLoop& loop, DatagramRelayOptions options);
  void from_client(std::span<const std::byte> data, const Address& from);
  Client* client_for(const Address& from);
  void take(Client& client, Line& line, std::span<const std::byte> data);
  void release_due(Client& client, Line& line);
  void emit(Client& client, Line& line, std::span<const std::byte> data, bool reordered);
  void send(Client& client, Line& line, std::span<const std::byte> data);
  void expire_idle();

  event::EventLoop& loop_;
  DatagramRelayOptions options_;
  std::shared_ptr<net::DatagramEndpoint> listener_;
  std::unordered_map<std::string, std::unique_ptr<Client>> clients_;
  std::uint64_t next_line_ = 0;
  event::TimerHandle sweep_;
  DatagramRelayStats stats_;
};

}  // namespace sockit::cli
