// The connection half of `sockit relay`: one RelayPair per client, two Flows each.
#include "relay_stream.hpp"

#include <algorithm>
#include <deque>
#include <vector>

#include "errors.hpp"
#include "log.hpp"
#include "sockit/net/connector.hpp"

namespace sockit::cli {
namespace {

using Clock = std::chrono::steady_clock;

// Connections pause themselves (and so their flows' sources) above this much output.
constexpr std::size_t kHighWater = 256 * 1024;
constexpr std::size_t kLowWater = 64 * 1024;

class RelayPair;

// One direction: bytes read from `from` go to `to`, through the fault queue when
// faults delay them.
struct Flow {
  const char* name = "";  // "up" (client -> TO) or "down"
  net::Connection* from = nullptr;
  net::Connection* to = nullptr;
  FaultLine faults;
  std::atomic<std::uint64_t>* forwarded_total = nullptr;
  struct Chunk {
    Clock::time_point release;
    std::vector<std::byte> bytes;
  };
  std::deque<Chunk> queue;
  std::size_t queued_bytes = 0;
  event::TimerHandle timer;
  std::uint64_t forwarded = 0;  // bytes accepted for forwarding (limits count these)
  bool ended = false;           // the source's end of stream was seen
  bool finished = false;        // ... and passed on as a FIN
  bool stalled = false;
  bool paused = false;

  Flow(const char* n, const FaultOptions& options, std::uint64_t seed) : name(n), faults(options, seed) {}
};

class RelayPair : public std::enable_shared_from_this<RelayPair> {
 public:
  RelayPair(std::shared_ptr<const StreamRelayOptions> options, std::shared_ptr<StreamRelayCounters> counters,
            net::Connection& client)
      : options_(std::move(options)),
        counters_(std::move(counters)),
        id_(counters_->next_client.fetch_add(1) + 1),
        client_(client.shared_from_this()),
        up_("up", options_->faults, line_seed(options_->faults.seed, 2 * id_)),
        down_("down", options_->faults, line_seed(options_->faults.seed, 2 * id_ + 1)) {
    up_.forwarded_total = &counters_->bytes_up;
    down_.forwarded_total = &counters_->bytes_down;
  }

  // Called from the Server's handler, before the client is started.
  void begin() {
    auto self = shared_from_this();
    client_->pause_reading();  // nothing to forward to yet
    client_->on_message([self](net::Connection&, std::span<const std::byte> m) { self->take(self->up_, m); });
    client_->on_peer_closed([self](net::Connection&) { self->source_ended(self->up_); });
    client_->on_backpressure([self](net::Connection&, bool) { self->update_pause(self->down_); });
    client_->on_close([self](net::Connection&, std::error_code reason) { self->client_closed(reason); });
    auto connector = net::Connector::create(client_->loop(), options_->to,
                                            {.attempt_timeout = options_->connect_timeout,
                                             .total_timeout = options_->connect_timeout,
                                             .max_attempts = 1});
    if (!connector) return connect_failed(connector.error());
    connector_ = std::move(*connector);
    connector_->start([self](Result<Fd> fd) { self->connected(std::move(fd)); });
  }

 private:
  void connected(Result<Fd> fd) {
    auto self = shared_from_this();
    connector_.reset();
    if (!client_->is_open()) return;
    auto upstream = net::make_connection(client_->loop(), std::move(fd), connection_options());
    if (!upstream) return connect_failed(upstream.error());
    upstream_ = std::move(*upstream);
    note("relay: client {} connected to {}", id_, options_->to.to_string());
    up_.from = client_.get();
    up_.to = upstream_.get();
    down_.from = upstream_.get();
    down_.to = client_.get();
    upstream_->on_message([self](net::Connection&, std::span<const std::byte> m) { self->take(self->down_, m); });
    upstream_->on_peer_closed([self](net::Connection&) { self->source_ended(self->down_); });
    upstream_->on_backpressure([self](net::Connection&, bool) { self->update_pause(self->up_); });
    upstream_->on_close([self](net::Connection&, std::error_code reason) { self->upstream_closed(reason); });
    upstream_->start();
    client_->resume_reading();
  }

  void connect_failed(std::error_code ec) {
    counters_->connect_failed.fetch_add(1, std::memory_order_relaxed);
    note("relay: client {}: connect {}: {} (client reset)", id_, options_->to.to_string(), describe(ec));
    client_->abort();
  }

  static net::ConnectionOptions connection_options() {
    net::ConnectionOptions o;
    o.high_water_mark = kHighWater;
    o.low_water_mark = kLowWater;
    return o;
  }

  [[nodiscard]] bool is_records() const { return client_->is_record_mode(); }

  // Bytes (or a record) from the flow's source.
  void take(Flow& flow, std::span<const std::byte> message) {
    // A reset below closes the source, which drops the callback running us (and
    // with it maybe the last reference to this pair): keep it alive to the end.
    auto self = shared_from_this();
    if (flow.stalled) return;  // reading is paused; what was already read is dropped
    std::span<const std::byte> part = message;
    bool forward = !part.empty() || is_records();  // an empty record is a record
    const std::uint64_t limit = first_limit();
    bool limit_reached = false;
    if (limit > 0 && flow.forwarded + part.size() >= limit) {
      const std::size_t room = static_cast<std::size_t>(limit - flow.forwarded);
      // A record is never cut: it goes whole or not at all.
      if (is_records() && part.size() > room) forward = false;
      part = part.first(std::min(part.size(), room));
      limit_reached = true;
    }
    if (forward) flow.forwarded += part.size();
    if (forward) {
      if (options_->faults.delays()) {
        flow.queue.push_back({flow.faults.chunk(part.size(), Clock::now()), {part.begin(), part.end()}});
        flow.queued_bytes += part.size();
        if (flow.queue.size() == 1) arm(flow);
      } else if (!deliver(flow, part)) {
        return;
      }
    }
    if (limit_reached) inject(flow);
    update_pause(flow);
  }

  [[nodiscard]] std::uint64_t first_limit() const {
    return options_->reset_after > 0 ? options_->reset_after : options_->stall_after;
  }

  void inject(Flow& flow) {
    if (options_->reset_after > 0) {
      counters_->resets_injected.fetch_add(1, std::memory_order_relaxed);
      note("relay: client {}: --reset-after {} bytes {}: resetting both sides", id_, options_->reset_after,
           flow.name);
      // Whatever is still queued or delayed is dropped with the connections.
      if (upstream_) upstream_->abort();
      client_->abort();
      return;
    }
    counters_->stalls_injected.fetch_add(1, std::memory_order_relaxed);
    note("relay: client {}: --stall-after {} bytes {}: no longer forwarding that way", id_,
         options_->stall_after, flow.name);
    flow.stalled = true;
  }

  bool deliver(Flow& flow, std::span<const std::byte> bytes) {
    if (auto sent = flow.to->send(bytes); !sent) {
      note("relay: client {}: {}: {} (resetting both sides)", id_, flow.name, describe(sent.error()));
      reset_both();
      return false;
    }
    flow.forwarded_total->fetch_add(bytes.size(), std::memory_order_relaxed);
    return true;
  }

  void arm(Flow& flow) {
    std::weak_ptr<RelayPair> weak = weak_from_this();
    Flow* f = &flow;
    const auto wait = std::max(flow.queue.front().release - Clock::now(), Clock::duration::zero());
    flow.timer = client_->loop().run_after(wait, [weak, f] {
      if (auto self = weak.lock()) self->release_due(*f);
    });
  }

  void release_due(Flow& flow) {
    auto self = shared_from_this();
    const auto now = Clock::now();
    while (!flow.queue.empty() && flow.queue.front().release <= now) {
      Flow::Chunk chunk = std::move(flow.queue.front());
      flow.queue.pop_front();
      flow.queued_bytes -= chunk.bytes.size();
      if (!deliver(flow, chunk.bytes)) return;
    }
    if (!flow.queue.empty()) arm(flow);
    pass_end_on(flow);
    update_pause(flow);
  }

  // The source stops being read while its bytes cannot go on: the destination
  // is above its high-water mark, the delay queue is full, or the flow stalled.
  void update_pause(Flow& flow) {
    if (flow.from == nullptr) return;
    const bool hold = flow.stalled || flow.queued_bytes > kRelayQueueBytes ||
                      (flow.to != nullptr && flow.to->queued_output() > kHighWater);
    const bool release = !flow.stalled && flow.queued_bytes <= kRelayQueueBytes / 4 &&
                         (flow.to == nullptr || flow.to->queued_output() <= kLowWater);
    if (hold && !flow.paused) {
      flow.paused = true;
      flow.from->pause_reading();
    } else if (release && flow.paused) {
      flow.paused = false;
      flow.from->resume_reading();
    }
  }

  void source_ended(Flow& flow) {
    auto self = shared_from_this();  // closing may drop the callback running us
    flow.ended = true;
    pass_end_on(flow);
  }

  // The source's FIN goes on once everything before it did; both ended: close.
  void pass_end_on(Flow& flow) {
    if (!flow.ended || flow.finished || !flow.queue.empty() || flow.to == nullptr) return;
    flow.finished = true;
    flow.to->shutdown_write();
    if (up_.finished && down_.finished) {
      note("relay: client {} done: {} bytes up, {} bytes down", id_, up_.forwarded, down_.forwarded);
      // TO first: the client closes once TO's side is closed (upstream_closed).
      upstream_->close();
    }
  }

  void reset_both() {
    if (upstream_) upstream_->abort();
    client_->abort();
  }

  void upstream_closed(std::error_code reason) {
    auto self = shared_from_this();
    if (reason) {
      note("relay: client {}: {} closed: {} (resetting the client)", id_, options_->to.to_string(),
           describe(reason));
      client_->abort();
    } else {
      client_->close();
    }
  }

  void client_closed(std::error_code reason) {
    auto self = shared_from_this();
    connector_.reset();  // a connect still under way is cancelled
    up_.timer.cancel();
    down_.timer.cancel();
    if (reason) note("relay: client {} closed: {}", id_, describe(reason));
    if (upstream_ && upstream_->is_open()) upstream_->abort();
  }

  std::shared_ptr<const StreamRelayOptions> options_;
  std::shared_ptr<StreamRelayCounters> counters_;
  std::uint64_t id_;
  std::shared_ptr<net::Connection> client_;
  std::unique_ptr<net::Connector> connector_;
  std::shared_ptr<net::Connection> upstream_;
  Flow up_;
  Flow down_;
};

}  // namespace

Result<std::unique_ptr<StreamRelay>> StreamRelay::start(const Address& from, StreamRelayOptions options) {
  std::unique_ptr<StreamRelay> relay(new StreamRelay());
  relay->options_ = std::make_shared<const StreamRelayOptions>(std::move(options));
  relay->counters_ = std::make_shared<StreamRelayCounters>();
  net::ServerOptions server_options = relay->options_->server;
  server_options.connection.high_water_mark = kHighWater;
  server_options.connection.low_water_mark = kLowWater;
  server_options.log = [](std::string_view text) { note("{}", text); };
  auto server = net::Server::create(
      from, std::move(server_options),
      [options = relay->options_, counters = relay->counters_](net::Connection& client) {
        std::make_shared<RelayPair>(options, counters, client)->begin();
      });
  if (!server) return fail(server.error());
  if (auto started = (*server)->start(); !started) return fail(started.error());
  relay->server_ = std::move(*server);
  return relay;
}

void StreamRelay::append_metrics(MetricsSnapshot& out) const {
  server_->append_metrics(out);
  const StreamRelayCounters& c = *counters_;
  const auto value = [](const std::atomic<std::uint64_t>& n) {
    return static_cast<double>(n.load(std::memory_order_relaxed));
  };
  out.add_counter("sockit_relay_forwarded_bytes_total",
                  "Bytes forwarded (direction: up, client to TO; down, TO to client).", value(c.bytes_up),
                  {{"direction", "up"}});
  out.add_counter("sockit_relay_forwarded_bytes_total",
                  "Bytes forwarded (direction: up, client to TO; down, TO to client).", value(c.bytes_down),
                  {{"direction", "down"}});
  out.add_counter("sockit_relay_connect_failed_total", "Clients reset because the connection to TO failed.",
                  value(c.connect_failed));
  out.add_counter("sockit_relay_resets_injected_total", "Clients reset by --reset-after.", value(c.resets_injected));
  out.add_counter("sockit_relay_stalls_injected_total", "Directions stalled by --stall-after.",
                  value(c.stalls_injected));
}

}  // namespace sockit::cli
