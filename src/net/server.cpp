#include "sockit/net/server.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <thread>
#include <unordered_map>

#include "net/admission.hpp"
#include "sockit/ancillary.hpp"
#include "sockit/event/event_loop.hpp"
#include "sys/syscalls.hpp"

namespace sockit::net {
namespace {

std::uint64_t load(const std::atomic<std::uint64_t>& a) { return a.load(std::memory_order_relaxed); }
void bump(std::atomic<std::uint64_t>& a, std::uint64_t n = 1) { a.fetch_add(n, std::memory_order_relaxed); }

// The key per-peer limits count by: the source IP for TCP, the uid for Unix.
std::string peer_key(int fd, bool is_unix) {
  if (is_unix) {
    auto cred = sys::get_option<ucred>(fd, SOL_SOCKET, SO_PEERCRED);
    return cred ? "uid:" + std::to_string(cred->uid) : std::string("uid:?");
  }
  auto endpoint = sys::peer_endpoint(fd);
  if (!endpoint) return "?";
  return Address::from_endpoint(*endpoint, Transport::tcp).host();
}

}  // namespace

struct Server::Impl {
  struct Tracked {
    std::shared_ptr<Connection> connection;
    std::string peer;
    event::TimerHandle idle_timer;
    std::uint64_t seen_bytes = 0;  // bytes in+out at the last idle check
    bool timed_out = false;
  };

  struct Worker {
    std::unique_ptr<event::EventLoop> loop;
    Listener listener;  // empty unless this worker accepts
    event::IoHandle accept_io;
    event::TimerHandle accept_retry;
    Fd reserve_fd;  // released on EMFILE to shed one pending connection
    bool logged_emfile = false;
    bool draining = false;
    std::unordered_map<Connection*, Tracked> connections;
    std::thread thread;
  };

  Address address;
  ServerOptions options;
  ConnectionHandler handler;
  Admission admission{options};
  std::vector<std::unique_ptr<Worker>> workers;
  std::atomic<unsigned> next_worker{0};
  bool started = false;
  bool stopped = false;

  std::atomic<std::uint64_t> accepted{0}, refused_max{0}, refused_peer{0}, refused_rate{0}, refused_policy{0},
      shed{0}, closed_peer{0}, closed_timeout{0}, closed_error{0}, closed_server{0}, bytes_in{0}, bytes_out{0},
      messages_in{0}, messages_out{0};

  Impl(const Address& a, ServerOptions o, ConnectionHandler h)
      : address(a), options(std::move(o)), handler(std::move(h)), admission(options) {}

  Status open_workers();
  Status start_accepting(Worker& w);
  void on_accept(Worker& w, Result<Fd> fd);
  void shed_one(Worker& w);
  bool allowed_by_policy(int fd) const;
  void adopt(Worker& w, Fd fd, std::string peer);
  void arm_idle_timer(Worker& w, Connection* c);
  void on_closed(Worker& w, Connection& c, std::error_code reason);
};

Status Server::Impl::open_workers() {
  const unsigned n = std::max(1u, options.threads);
  const bool is_tcp = address.transport() == Transport::tcp;
  Address bind_address = address;
  for (unsigned i = 0; i < n; ++i) {
    auto w = std::make_unique<Worker>();
    auto loop = event::EventLoop::create({.backend = options.backend});
    if (!loop) return fail(loop.error());
    w->loop = std::move(*loop);
    // TCP: a listener per worker (SO_REUSEPORT). Unix: only worker 0 listens.
    if (i == 0 || is_tcp) {
      ListenOptions lo = options.listen;
      if (is_tcp && n > 1) lo.reuse_port = true;
      auto listener = listen(bind_address, lo);
      if (!listener) return fail(listener.error());
      if (i == 0) {
        auto bound = listener->local_address();
        if (!bound) return fail(bound.error());
        if (is_tcp) bind_address = *bound;  // the other workers join the real port
      }
      w->listener = std::move(*listener);
      w->reserve_fd.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    }
    workers.push_back(std::move(w));
  }
  return {};
}

Status Server::Impl::start_accepting(Worker& w) {
  if (!w.listener.is_open()) return {};
  auto io = w.loop->watch(w.listener.native_handle());
  if (!io) return fail(io.error());
  w.accept_io = std::move(*io);
  w.accept_io.accept([this, &w](Result<Fd> fd) { on_accept(w, std::move(fd)); });
  return {};
}

void Server::Impl::shed_one(Worker& w) {
  // With a completion engine the EMFILE report can arrive after descriptors were
  // freed; shedding then would close a connection we could serve. Probe first.
  if (Fd probe(::open("/dev/null", O_RDONLY | O_CLOEXEC)); probe.valid()) return;
  bump(shed);
  if (!w.logged_emfile) {
    w.logged_emfile = true;  // once per burst: reset when an accept succeeds again
    if (options.log) options.log("out of file descriptors: shedding new connections until some close");
  }
  // Free one descriptor, take the pending connection off the queue and close it:
  // the client gets a prompt close instead of waiting in a backlog we cannot serve.
  w.reserve_fd.reset();
  if (auto victim = w.listener.accept_fd(Deadline::after(std::chrono::milliseconds(0)))) victim->reset();
  w.reserve_fd.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!w.reserve_fd.valid()) {
    // Someone took the descriptor meanwhile: stop accepting briefly rather than
    // spin on EMFILE, then try again.
    w.accept_io.reset();
    w.accept_retry = w.loop->run_after(std::chrono::milliseconds(100), [this, &w] {
      w.reserve_fd.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
      if (!w.draining) (void)start_accepting(w);
    });
  }
}

bool Server::Impl::allowed_by_policy(int fd) const {
  if (options.allowed_uids.empty() && options.allowed_gids.empty()) return true;
  auto cred = sys::get_option<ucred>(fd, SOL_SOCKET, SO_PEERCRED);
  if (!cred) return false;
  const bool uid_ok = std::find(options.allowed_uids.begin(), options.allowed_uids.end(), cred->uid) !=
                      options.allowed_uids.end();
  const bool gid_ok = std::find(options.allowed_gids.begin(), options.allowed_gids.end(), cred->gid) !=
                      options.allowed_gids.end();
  return uid_ok || gid_ok;
}

void Server::Impl::on_accept(Worker& w, Result<Fd> fd) {
  if (!fd) {
    if (fd.error() == std::errc::too_many_files_open || fd.error() == std::errc::too_many_files_open_in_system) {
      shed_one(w);
    }
    return;  // ECONNABORTED and friends: the client gave up; nothing to do
  }
  w.logged_emfile = false;
  const bool is_unix = address.is_unix();
  if (is_unix && !allowed_by_policy(fd->get())) {
    bump(refused_policy);
    return;  // Fd closes: refused before a byte is read
  }
  std::string peer = options.max_connections_per_peer > 0 ? peer_key(fd->get(), is_unix) : std::string();
  switch (admission.admit(peer)) {
    case Verdict::admit: break;
    case Verdict::max_connections: bump(refused_max); return;
    case Verdict::per_peer: bump(refused_peer); return;
    case Verdict::rate: bump(refused_rate); return;
  }
  bump(accepted);
  if (is_unix && workers.size() > 1) {
    Worker& target = *workers[next_worker.fetch_add(1) % workers.size()];
    // std::function needs a copyable callable: hand the fd over as a plain int.
    const int raw = fd->release();
    target.loop->post([this, &target, raw, peer = std::move(peer)]() mutable { adopt(target, Fd(raw), std::move(peer)); });
    return;
  }
  adopt(w, std::move(*fd), std::move(peer));
}

void Server::Impl::adopt(Worker& w, Fd fd, std::string peer) {
  if (w.draining) {
    admission.release(peer);
    bump(closed_server);
    return;
  }
  auto created = Connection::create(*w.loop, std::move(fd), options.connection);
  if (!created) {
    admission.release(peer);
    bump(closed_error);
    return;
  }
  std::shared_ptr<Connection> c = std::move(*created);
  Connection* key = c.get();
  w.connections.emplace(key, Tracked{c, std::move(peer), {}, 0, false});
  if (handler) handler(*c);
  c->on_close([this, &w](Connection& closed, std::error_code reason) { on_closed(w, closed, reason); });
  arm_idle_timer(w, key);
  c->start();
}

void Server::Impl::arm_idle_timer(Worker& w, Connection* c) {
  if (options.idle_timeout.count() <= 0) return;
  auto it = w.connections.find(c);
  if (it == w.connections.end()) return;
  // Lazy re-arm: one timer per connection, checked when it fires. Traffic only
  // moves a counter; no timer work per message.
  it->second.idle_timer = w.loop->run_after(options.idle_timeout, [this, &w, c] {
    auto found = w.connections.find(c);
    if (found == w.connections.end()) return;
    const auto& s = c->stats();
    const std::uint64_t moved = s.bytes_in + s.bytes_out;
    if (moved != found->second.seen_bytes) {
      found->second.seen_bytes = moved;
      arm_idle_timer(w, c);
      return;
    }
    found->second.timed_out = true;
    c->abort();
  });
}

void Server::Impl::on_closed(Worker& w, Connection& c, std::error_code reason) {
  auto it = w.connections.find(&c);
  if (it == w.connections.end()) return;
  if (it->second.timed_out) {
    bump(closed_timeout);
  } else if (w.draining) {
    bump(closed_server);
  } else if (reason) {
    bump(closed_error);
  } else {
    bump(closed_peer);
  }
  const auto& s = c.stats();
  bump(bytes_in, s.bytes_in);
  bump(bytes_out, s.bytes_out);
  bump(messages_in, s.messages_in);
  bump(messages_out, s.messages_out);
  admission.release(it->second.peer);
  // Destroy the entry after the callback returns: the Connection is still running it.
  auto keep = std::move(it->second.connection);
  w.connections.erase(it);
  w.loop->post([keep = std::move(keep)] {});
}

// --- Server -----------------------------------------------------------------------------

Result<std::unique_ptr<Server>> Server::create(const Address& address, ServerOptions options,
                                               ConnectionHandler handler) {
  if (!address.is_stream() && address.transport() != Transport::unix_seqpacket) return fail(errc::wrong_transport);
  auto impl = std::make_unique<Impl>(address, std::move(options), std::move(handler));
  if (auto s = impl->open_workers(); !s) return fail(s.error());
  auto bound = impl->workers.front()->listener.local_address();
  if (!bound) return fail(bound.error());
  std::unique_ptr<Server> server(new Server(std::move(impl)));
  server->local_address_ = *bound;
  server->backend_name_ = server->impl_->workers.front()->loop->backend().name;
  return server;
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() { shutdown(std::chrono::milliseconds(0)); }

Status Server::start() {
  if (impl_->started) return fail(errc::invalid_argument);
  for (auto& w : impl_->workers) {
    if (auto s = impl_->start_accepting(*w); !s) return s;
  }
  impl_->started = true;
  for (auto& w : impl_->workers) {
    w->thread = std::thread([loop = w->loop.get()] { loop->run(); });
  }
  return {};
}

void Server::shutdown(std::chrono::milliseconds deadline) {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  if (!impl_->started) return;
  // 1. Stop accepting and ask every connection to finish (flush, FIN).
  for (auto& w : impl_->workers) {
    w->loop->post([&w = *w] {
      w.draining = true;
      w.accept_io.reset();
      w.accept_retry.cancel();
      w.listener.close();
      for (auto& [c, tracked] : w.connections) tracked.connection->close();
    });
  }
  // 2. Wait for them within the deadline.
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (impl_->admission.active() > 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // 3. Reset the rest, then stop the loops.
  for (auto& w : impl_->workers) {
    w->loop->post([&w = *w] {
      std::vector<std::shared_ptr<Connection>> rest;
      for (auto& [c, tracked] : w.connections) rest.push_back(tracked.connection);
      for (auto& c : rest) c->abort();
      w.loop->stop();
    });
  }
  for (auto& w : impl_->workers) {
    if (w->thread.joinable()) w->thread.join();
  }
}

ServerStats Server::stats() const {
  const Impl& i = *impl_;
  ServerStats s;
  s.accepted = load(i.accepted);
  s.refused_max_connections = load(i.refused_max);
  s.refused_per_peer = load(i.refused_peer);
  s.refused_rate = load(i.refused_rate);
  s.refused_policy = load(i.refused_policy);
  s.shed_no_descriptors = load(i.shed);
  s.active = i.admission.active();
  s.closed_by_peer = load(i.closed_peer);
  s.closed_by_timeout = load(i.closed_timeout);
  s.closed_by_error = load(i.closed_error);
  s.closed_by_server = load(i.closed_server);
  s.bytes_in = load(i.bytes_in);
  s.bytes_out = load(i.bytes_out);
  s.messages_in = load(i.messages_in);
  s.messages_out = load(i.messages_out);
  return s;
}

}  // namespace sockit::net
