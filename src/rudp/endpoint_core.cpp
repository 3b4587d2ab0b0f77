#include "sockit/rudp/endpoint_core.hpp"

#include <algorithm>
#include <deque>
#include <set>
#include <unordered_map>
#include <vector>

#include "rudp/connection_impl.hpp"
#include "rudp/cookie.hpp"
#include "rudp/packet.hpp"
#include "rudp/siphash.hpp"

namespace sockit::rudp {

std::optional<PeerAddress> PeerAddress::from(std::span<const std::byte> raw) {
  if (raw.size() > kMaxSize) return std::nullopt;
  PeerAddress a;
  std::copy(raw.begin(), raw.end(), a.bytes.begin());
  a.size = static_cast<std::uint8_t>(raw.size());
  return a;
}

namespace {

// A server finds a client's connection again by (address, client id) when the
// client repeats its HELLO. Hashed with a secret key: a peer that cannot predict
// the hash cannot aim all its entries at one bucket.
struct ClientKey {
  PeerAddress peer;
  std::uint64_t client_id = 0;
  friend bool operator==(const ClientKey&, const ClientKey&) = default;
};

struct ClientKeyHash {
  SipKey key;
  std::size_t operator()(const ClientKey& k) const {
    std::array<std::byte, PeerAddress::kMaxSize + 8> input{};
    std::copy(k.peer.bytes.begin(), k.peer.bytes.end(), input.begin());
    for (std::size_t i = 0; i < 8; ++i) input[PeerAddress::kMaxSize + i] = static_cast<std::byte>(k.client_id >> (8 * i));
    return static_cast<std::size_t>(siphash24(key, std::span(input).first(PeerAddress::kMaxSize + 8)));
  }
};

struct Challenge {
  PeerAddress peer;
  std::uint64_t client_id = 0;
  wire::Cookie cookie{};
};

}  // namespace

class EndpointCore::Impl {
 public:
  explicit Impl(const EndpointConfig& config)
      : config_(config),
        random_(config.seed),
        cookies_(random_, config.cookie_period),
        by_client_(16, ClientKeyHash{{random_.next(), random_.next()}}),
        challenges_(config.max_pending_challenges) {
    budget_.limit = config.max_reassembly_bytes;
  }

  ~Impl() {
    // Connections return their reassembly charges to budget_ as they go; they
    // must go before it.
    connections_.clear();
  }

  struct Entry {
    std::unique_ptr<ConnectionCore> connection;
    PeerAddress peer;
    std::uint64_t client_id = 0;  // server side: the peer's id, for by_client_
    bool is_client = false;
    bool reported_open = false;
    bool reported_closed = false;
    bool in_ready = false;
    std::optional<Instant> timer;
  };

  Result<ConnectionCore*> connect(const PeerAddress& peer, Instant now) {
    if (connections_.size() >= config_.max_connections) return fail(errc::limit_reached);
    const std::uint64_t id = fresh_id();
    auto impl = std::make_unique<ConnectionCore::Impl>(config_.connection, id, budget_, now);
    Entry& e = insert(id, std::move(impl), peer);
    e.is_client = true;
    touch(e);
    return e.connection.get();
  }

  void on_datagram(const PeerAddress& from, std::span<const std::byte> datagram, Instant now) {
    reap();
    ++stats_.datagrams_received;
    auto header = wire::decode_header(datagram);
    if (!header) {
      ++stats_.malformed_packets;
      return;
    }
    if (header->type == wire::PacketType::hello) {
      on_hello(from, datagram.subspan(wire::kHeaderSize), now);
      return;
    }
    auto it = connections_.find(header->destination);
    if (it == connections_.end() || !(it->second.peer == from)) {
      // No migration: a packet for a connection from another address is not its.
      ++stats_.unknown_connection;
      return;
    }
    Entry& e = it->second;
    ConnectionCore::Impl& c = e.connection->impl();
    const std::uint64_t malformed_before = c.malformed();
    c.on_datagram(datagram, now);
    stats_.malformed_packets += c.malformed() - malformed_before;
    touch(e);
  }

  void on_timer(Instant now) {
    reap();
    due_.clear();
    for (auto it = timers_.begin(); it != timers_.end() && it->first <= now; ++it) due_.push_back(it->second);
    for (std::uint64_t id : due_) {
      auto it = connections_.find(id);
      if (it == connections_.end()) continue;
      it->second.connection->on_timer(now);
      touch(it->second);
    }
  }

  std::optional<Transmit> poll_transmit(Instant now, std::span<std::byte> out) {
    reap();
    if (challenge_count_ > 0) {
      const Challenge& ch = challenges_[challenge_head_];
      challenge_head_ = (challenge_head_ + 1) % challenges_.size();
      --challenge_count_;
      ++stats_.challenges_sent;
      ++stats_.datagrams_sent;
      return Transmit{ch.peer, wire::encode_challenge(ch.client_id, ch.cookie, out)};
    }
    while (!ready_.empty()) {
      const std::uint64_t id = ready_.front();
      ready_.pop_front();
      auto it = connections_.find(id);
      if (it == connections_.end()) continue;
      Entry& e = it->second;
      const std::size_t size = e.connection->poll_transmit(now, out);
      if (size > 0) {
        ready_.push_back(id);  // it may have more; take turns with the others
        update_timer(e);
        check_events(e);
        ++stats_.datagrams_sent;
        return Transmit{e.peer, size};
      }
      e.in_ready = false;
      update_timer(e);
      check_events(e);
    }
    return std::nullopt;
  }

  std::optional<Instant> next_timeout() const {
    if (timers_.empty()) return std::nullopt;
    return timers_.begin()->first;
  }

  std::optional<EndpointEvent> poll_event() {
    reap();
    if (events_.empty()) return std::nullopt;
    EndpointEvent e = events_.front();
    events_.pop_front();
    return e;
  }

  void release(ConnectionCore* connection) {
    auto it = connections_.find(connection->id());
    if (it == connections_.end()) return;
    Entry& e = it->second;
    if (e.timer) timers_.erase(std::pair{*e.timer, it->first});
    if (!e.is_client) by_client_.erase(ClientKey{e.peer, e.client_id});
    std::erase_if(events_, [&](const EndpointEvent& ev) { return ev.connection == connection; });
    connections_.erase(it);
  }

  EndpointStats stats() const {
    EndpointStats s = stats_;
    s.connections_live = connections_.size();
    s.reassembly_bytes = budget_.used;
    s.dropped_no_buffer = budget_.dropped;
    return s;
  }

  std::size_t connection_count() const { return connections_.size(); }

 private:
  std::uint64_t fresh_id() {
    for (;;) {
      const std::uint64_t id = random_.next_nonzero();
      if (!connections_.contains(id)) return id;
    }
  }

  Entry& insert(std::uint64_t id, std::unique_ptr<ConnectionCore::Impl> impl, const PeerAddress& peer) {
    Entry& e = connections_[id];
    impl->on_touched = [this, id] {
      if (auto it = connections_.find(id); it != connections_.end()) touch(it->second);
    };
    e.connection = std::make_unique<ConnectionCore>(std::move(impl));
    e.peer = peer;
    return e;
  }

  // The stateless half of the handshake: nothing is allocated for this peer
  // unless its HELLO carries a cookie we made for its address.
  void on_hello(const PeerAddress& from, std::span<const std::byte> body, Instant now) {
    auto hello = wire::decode_hello(body);
    if (!hello) {
      ++stats_.malformed_packets;
      return;
    }
    if (!config_.accept) {
      ++stats_.unknown_connection;
      return;
    }
    if (auto it = by_client_.find(ClientKey{from, hello->client_id}); it != by_client_.end()) {
      Entry& e = connections_.at(it->second);
      e.connection->impl().on_repeated_hello();
      touch(e);
      return;
    }
    if (!hello->cookie) {
      queue_challenge(from, hello->client_id, now);
      return;
    }
    if (!cookies_.verify(from.view(), hello->client_id, *hello->cookie, now)) {
      ++stats_.cookies_rejected;
      queue_challenge(from, hello->client_id, now);  // perhaps only stale: a fresh one
      return;
    }
    if (connections_.size() >= config_.max_connections) {
      ++stats_.connections_refused;
      return;
    }
    PeerParams peer;
    peer.id = hello->client_id;
    peer.max_message = hello->max_message;
    peer.window = hello->window;
    peer.max_ack_delay = std::chrono::milliseconds(hello->max_ack_delay_ms);
    const std::uint64_t id = fresh_id();
    Entry& e = insert(id, std::make_unique<ConnectionCore::Impl>(config_.connection, id, peer, budget_, now), from);
    e.client_id = hello->client_id;
    by_client_.emplace(ClientKey{from, hello->client_id}, id);
    ++stats_.connections_accepted;
    touch(e);
  }

  void queue_challenge(const PeerAddress& from, std::uint64_t client_id, Instant now) {
    if (challenge_count_ == challenges_.size()) {
      ++stats_.challenges_dropped;
      return;
    }
    Challenge& ch = challenges_[(challenge_head_ + challenge_count_) % challenges_.size()];
    ch.peer = from;
    ch.client_id = client_id;
    ch.cookie = cookies_.make(from.view(), client_id, now);
    ++challenge_count_;
  }

  // After anything happened to a connection: it may want to send, its deadline
  // may have moved, it may have opened or closed.
  void touch(Entry& e) {
    if (!e.in_ready) {
      e.in_ready = true;
      ready_.push_back(e.connection->id());
    }
    update_timer(e);
    check_events(e);
  }

  void update_timer(Entry& e) {
    const std::uint64_t id = e.connection->id();
    const auto next = e.connection->next_timeout();
    if (e.timer == next) return;
    if (e.timer && next) {
      // Moved, not re-allocated: this runs after every datagram.
      auto node = timers_.extract(std::pair{*e.timer, id});
      node.value() = std::pair{*next, id};
      timers_.insert(std::move(node));
    } else if (e.timer) {
      timers_.erase(std::pair{*e.timer, id});
    } else {
      timers_.emplace(*next, id);
    }
    e.timer = next;
  }

  void check_events(Entry& e) {
    const ConnectionState state = e.connection->state();
    if (!e.reported_open && state != ConnectionState::connecting && state != ConnectionState::accepting &&
        state != ConnectionState::closed) {
      e.reported_open = true;
      events_.push_back({e.is_client ? EndpointEvent::Kind::connected : EndpointEvent::Kind::accepted,
                         e.connection.get(), {}});
    }
    if (!e.reported_closed && state == ConnectionState::closed) {
      e.reported_closed = true;
      if (!e.reported_open && !e.is_client) {
        // A handshake the client abandoned after its cookie: the application
        // never saw this connection, so it cannot release it; the endpoint does,
        // at its next entry (an Entry may be in use further up the stack now).
        reap_.push_back(e.connection->id());
        return;
      }
      events_.push_back({EndpointEvent::Kind::closed, e.connection.get(), e.connection->error()});
    }
  }

  void reap() {
    for (std::uint64_t id : reap_) {
      if (auto it = connections_.find(id); it != connections_.end()) release(it->second.connection.get());
    }
    reap_.clear();
  }

  EndpointConfig config_;
  RandomSource random_;
  CookieJar cookies_;
  ReassemblyBudget budget_;
  std::unordered_map<std::uint64_t, Entry> connections_;
  std::unordered_map<ClientKey, std::uint64_t, ClientKeyHash> by_client_;
  std::set<std::pair<Instant, std::uint64_t>> timers_;
  std::vector<std::uint64_t> due_;
  std::vector<std::uint64_t> reap_;
  std::deque<std::uint64_t> ready_;
  std::deque<EndpointEvent> events_;
  std::vector<Challenge> challenges_;  // a ring: fixed size, allocated once
  std::size_t challenge_head_ = 0;
  std::size_t challenge_count_ = 0;
  EndpointStats stats_;
};

Result<std::unique_ptr<EndpointCore>> EndpointCore::create(const EndpointConfig& config) {
  if (auto s = validate(config); !s) return fail(s.error());
  return std::unique_ptr<EndpointCore>(new EndpointCore(std::make_unique<Impl>(config)));
}

EndpointCore::EndpointCore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EndpointCore::~EndpointCore() = default;
Result<ConnectionCore*> EndpointCore::connect(const PeerAddress& peer, Instant now) {
  return impl_->connect(peer, now);
}
void EndpointCore::on_datagram(const PeerAddress& from, std::span<const std::byte> datagram, Instant now) {
  impl_->on_datagram(from, datagram, now);
}
void EndpointCore::on_timer(Instant now) { impl_->on_timer(now); }
std::optional<Transmit> EndpointCore::poll_transmit(Instant now, std::span<std::byte> out) {
  return impl_->poll_transmit(now, out);
}
std::optional<Instant> EndpointCore::next_timeout() const { return impl_->next_timeout(); }
std::optional<EndpointEvent> EndpointCore::poll_event() { return impl_->poll_event(); }
void EndpointCore::release(ConnectionCore* connection) { impl_->release(connection); }
EndpointStats EndpointCore::stats() const { return impl_->stats(); }
std::size_t EndpointCore::connection_count() const { return impl_->connection_count(); }

}  // namespace sockit::rudp
