// The datagram half of `sockit relay`: per-client upstream sockets and fault lines.
#include "relay_datagram.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <vector>

#include "errors.hpp"
#include "log.hpp"
#include "relay_stream.hpp"  // kRelayQueueBytes

namespace sockit::cli {

using Clock = std::chrono::steady_clock;

// One direction of one client: its faults, its delay queue (ordered by release
// time, then arrival: jitter may reorder, as with netem) and a datagram held back
// for reordering.
struct DatagramRelay::Line {
  Line(const FaultOptions& options, std::uint64_t seed, bool is_up) : faults(options, seed), up(is_up) {}
  struct Pending {
    std::vector<std::byte> bytes;
    bool reordered = false;
  };
  FaultLine faults;
  bool up;
  std::multimap<Clock::time_point, Pending> queue;
  std::size_t queued_bytes = 0;
  event::TimerHandle timer;
  std::optional<std::vector<std::byte>> held;
  event::TimerHandle hold_timer;
};

struct DatagramRelay::Client {
  Address address;
  std::shared_ptr<net::DatagramEndpoint> upstream;
  Line up;
  Line down;
  Clock::time_point last_seen;
  Client(const FaultOptions& options, std::uint64_t line)
      : up(options, line_seed(options.seed, line), true), down(options, line_seed(options.seed, line + 1), false) {}
  ~Client() {
    if (upstream) upstream->close();
  }
};

DatagramRelay::DatagramRelay(event::EventLoop& loop, DatagramRelayOptions options)
    : loop_(loop), options_(std::move(options)) {}

DatagramRelay::~DatagramRelay() {
  clients_.clear();
  if (listener_) listener_->close();
}

Result<std::unique_ptr<DatagramRelay>> DatagramRelay::create(event::EventLoop& loop, const Address& from,
                                                             DatagramRelayOptions options) {
  std::unique_ptr<DatagramRelay> relay(new DatagramRelay(loop, std::move(options)));
  auto socket = DatagramSocket::bind(from, relay->options_.bind);
  if (!socket) return fail(socket.error());
  // A client that does not read its replies must not hold up the others' (see
  // DatagramEndpointOptions::drop_when_blocked).
  auto listener = net::DatagramEndpoint::create(
      loop, std::move(*socket),
      {.max_datagram_size = relay->options_.max_datagram, .drop_when_blocked = true});
  if (!listener) return fail(listener.error());
  relay->listener_ = std::move(*listener);
  DatagramRelay* self = relay.get();
  relay->listener_->on_datagram(
      [self](net::DatagramEndpoint&, std::span<const std::byte> data, const Address& from_address) {
        self->from_client(data, from_address);
      });
  relay->listener_->on_truncated([self](net::DatagramEndpoint&, std::size_t size, const Address& from_address) {
    ++self->stats_.dropped;
    note("relay: {}: a datagram of {} bytes is over --max-datagram: dropped", from_address.to_string(), size);
  });
  relay->listener_->on_error([self](net::DatagramEndpoint&, std::error_code ec) {
    ++self->stats_.dropped;
    note("relay: reply not sent: {}", describe(ec));
  });
  relay->listener_->start();
  const auto sweep = std::max(std::chrono::milliseconds(10), relay->options_.idle_timeout / 4);
  relay->sweep_ = loop.run_every(sweep, [self] { self->expire_idle(); });
  return relay;
}

DatagramRelay::Client* DatagramRelay::client_for(const Address& from) {
  const std::string key = from.to_string();
  if (auto it = clients_.find(key); it != clients_.end()) return it->second.get();
  if (clients_.size() >= options_.max_clients) {
    ++stats_.clients_refused;
    note("relay: {}: over --max-clients {}: dropped", key, options_.max_clients);
    return nullptr;
  }
  auto socket = DatagramSocket::connect(options_.to);
  if (!socket) {
    note("relay: {}: connect {}: {}: dropped", key, options_.to.to_string(), describe(socket.error()));
    return nullptr;
  }
  auto upstream = net::DatagramEndpoint::create(loop_, std::move(*socket),
                                                {.max_datagram_size = options_.max_datagram});
  if (!upstream) return nullptr;
  auto client = std::make_unique<Client>(options_.faults, next_line_);
  next_line_ += 2;
  client->address = from;
  client->upstream = std::move(*upstream);
  Client* c = client.get();
  c->upstream->on_datagram([this, c](net::DatagramEndpoint&, std::span<const std::byte> data, const Address&) {
    c->last_seen = Clock::now();
    take(*c, c->down, data);
  });
  c->upstream->on_truncated([this](net::DatagramEndpoint&, std::size_t, const Address&) { ++stats_.dropped; });
  c->upstream->on_error([this, key](net::DatagramEndpoint&, std::error_code ec) {
    ++stats_.dropped;
    note("relay: {}: to {}: {}", key, options_.to.to_string(), describe(ec));
  });
  c->upstream->start();
  ++stats_.clients;
  note("relay: new client {} (upstream {})", key, options_.to.to_string());
  clients_.emplace(key, std::move(client));
  return c;
}

void DatagramRelay::from_client(std::span<const std::byte> data, const Address& from) {
  if (from.is_unnamed()) {
    ++stats_.dropped;
    note("relay: a datagram from an unbound Unix socket (no address to reply to): dropped");
    return;
  }
  Client* client = client_for(from);
  if (client == nullptr) {
    ++stats_.dropped;
    return;
  }
  client->last_seen = Clock::now();
  take(*client, client->up, data);
}

void DatagramRelay::take(Client& client, Line& line, std::span<const std::byte> data) {
  const auto now = Clock::now();
  const FaultLine::DatagramFate fate = line.faults.datagram(data.size(), now);
  if (fate.lost) {
    ++stats_.lost;
    return;
  }
  const int copies = fate.duplicated ? 2 : 1;
  stats_.duplicated += fate.duplicated ? 1 : 0;
  if (fate.release <= now && line.queue.empty()) {
    for (int i = 0; i < copies; ++i) emit(client, line, data, fate.reordered && i == 0);
    return;
  }
  for (int i = 0; i < copies; ++i) {
    if (line.queued_bytes + data.size() > kRelayQueueBytes) {
      ++stats_.dropped;
      continue;
    }
    line.queue.emplace(fate.release, Line::Pending{{data.begin(), data.end()}, fate.reordered && i == 0});
    line.queued_bytes += data.size();
  }
  if (!line.queue.empty() && line.queue.begin()->first == fate.release) {
    // The new datagram is (one of) the first due: the timer must fire for it.
    line.timer = loop_.run_after(std::max(fate.release - now, Clock::duration::zero()),
                                 [this, &client, &line] { release_due(client, line); });
  }
}

void DatagramRelay::release_due(Client& client, Line& line) {
  const auto now = Clock::now();
  while (!line.queue.empty() && line.queue.begin()->first <= now) {
    auto node = line.queue.extract(line.queue.begin());
    line.queued_bytes -= node.mapped().bytes.size();
    emit(client, line, node.mapped().bytes, node.mapped().reordered);
  }
  if (!line.queue.empty()) {
    line.timer = loop_.run_after(std::max(line.queue.begin()->first - now, Clock::duration::zero()),
                                 [this, &client, &line] { release_due(client, line); });
  }
}

// A datagram marked for reordering waits for the next one (or kReorderHold).
void DatagramRelay::emit(Client& client, Line& line, std::span<const std::byte> data, bool reordered) {
  if (reordered && !line.held) {
    ++stats_.reordered;
    line.held.emplace(data.begin(), data.end());
    line.hold_timer = loop_.run_after(kReorderHold, [this, &client, &line] {
      auto held = std::move(*line.held);
      line.held.reset();
      send(client, line, held);
    });
    return;
  }
  send(client, line, data);
  if (line.held) {
    line.hold_timer.cancel();
    auto held = std::move(*line.held);
    line.held.reset();
    send(client, line, held);
  }
}

void DatagramRelay::send(Client& client, Line& line, std::span<const std::byte> data) {
  const Status sent = line.up ? client.upstream->send(data) : listener_->send_to(data, client.address);
  if (!sent) {
    ++stats_.dropped;
    return;
  }
  if (line.up) {
    ++stats_.datagrams_up;
    stats_.bytes_up += data.size();
  } else {
    ++stats_.datagrams_down;
    stats_.bytes_down += data.size();
  }
}

void DatagramRelay::expire_idle() {
  const auto now = Clock::now();
  for (auto it = clients_.begin(); it != clients_.end();) {
    if (now - it->second->last_seen >= options_.idle_timeout) {
      note("relay: client {} idle for --idle-timeout: forgotten", it->first);
      ++stats_.clients_expired;
      it = clients_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace sockit::cli
