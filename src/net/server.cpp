#include "sockit/net/server.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <condition_variable>
#include <mutex>
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

// Who is on the other end of an accepted connection, for ServerOptions::on_event.
std::shared_ptr<ServerEvent> peer_event(int fd, Transport transport) {
  auto event = std::make_shared<ServerEvent>();
  if (auto endpoint = sys::peer_endpoint(fd)) event->peer = Address::from_endpoint(*endpoint, transport);
  if (transport != Transport::tcp) {
    if (auto cred = sys::get_option<ucred>(fd, SOL_SOCKET, SO_PEERCRED)) {
      event->credentials = Credentials{cred->pid, cred->uid, cred->gid};
    }
  }
  return event;
}

// What on_close's reason says about the peer: it broke the framing (a frame, line
// or record over max_frame; framing has no other error).
bool is_protocol_error(std::error_code reason) { return reason == make_error_code(errc::frame_too_large); }

// The connections of a worker, held: closing one may erase it from the map.
template <typename Map>
std::vector<std::shared_ptr<Connection>> snapshot(const Map& connections) {
  std::vector<std::shared_ptr<Connection>> held;
  held.reserve(connections.size());
  for (const auto& [key, tracked] : connections) held.push_back(tracked.connection);
  return held;
}

// Descriptors open in this process numbered below `limit` (the directory's own
// descriptor, open while it is read, not counted).
std::size_t open_descriptors_below(int limit) {
  std::size_t count = 0;
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return 0;
  const int own = ::dirfd(dir);
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    const int fd = std::atoi(entry->d_name);
    if (fd != own && fd < limit) ++count;
  }
  ::closedir(dir);
  return count;
}

}  // namespace

// How long accepting pauses when the process is out of descriptors and nothing
// of ours closed: short enough that a waiting client barely notices, long enough
// that the pause costs nothing (20 wake-ups a second).
constexpr std::chrono::milliseconds kAcceptPause{50};
constexpr std::chrono::seconds kExhaustionLogInterval{10};
// Idle checks per idle_timeout. The Connection keeps counters, not the time of its
// last progress, so a check only learns that progress happened since the previous
// one; the check interval is how late a quiet connection may be reset (1/8 of the
// timeout) and costs that many timer firings per connection per timeout. A
// lazier re-arm (one per timeout) would let a connection that went quiet just
// after a check live up to twice the timeout.
constexpr int kIdleChecksPerTimeout = 8;

struct Server::Impl {
  struct Tracked {
    std::shared_ptr<Connection> connection;
    std::string peer;
    event::TimerHandle idle_timer;
    // Progress counters at the last idle check, and when a check last saw them move
    // (or the connection arrived): the progress was at or before that time.
    std::uint64_t seen_messages_in = 0;
    std::uint64_t seen_bytes_out = 0;
    std::chrono::steady_clock::time_point progress_seen_at;
    bool timed_out = false;
    std::shared_ptr<ServerEvent> event;  // id and peer, only with options.on_event
  };

  struct Worker {
    std::unique_ptr<event::EventLoop> loop;
    Listener listener;  // empty unless this worker accepts
    event::IoHandle accept_io;
    event::TimerHandle accept_retry;  // ends an EMFILE pause
    Fd reserve_fd;  // released on EMFILE to shed one pending connection
    bool accept_paused = false;
    std::chrono::steady_clock::time_point last_exhaustion_log{};
    bool draining = false;
    std::unordered_map<Connection*, Tracked> connections;
    TrafficTotals traffic;  // live and closed connections of this worker
    std::thread thread;
  };

  Address address;
  ServerOptions options;
  ConnectionHandler handler;
  Admission admission{options};
  std::vector<std::unique_ptr<Worker>> workers;
  std::atomic<unsigned> next_worker{0};
  std::atomic<std::uint64_t> next_id{0};  // ServerEvent::id
  int descriptor_limit = 0;  // the backend's (select: FD_SETSIZE); 0: none
  bool started = false;
  bool stopped = false;
  // Between start() and the beginning of shutdown(): the worker loops run and take
  // tasks (tcp_summary's), read from any thread.
  std::atomic<bool> running{false};

  std::atomic<std::uint64_t> accepted{0}, refused_max{0}, refused_peer{0}, refused_rate{0}, refused_policy{0},
      shed{0}, closed_peer{0}, closed_timeout{0}, closed_protocol{0}, closed_error{0}, closed_server{0};

  Impl(const Address& a, ServerOptions o, ConnectionHandler h)
      : address(a), options(std::move(o)), handler(std::move(h)), admission(options) {}

  Status open_workers();
  Status start_accepting(Worker& w);
  void on_accept(Worker& w, Result<Fd> fd);
  void shed_one(Worker& w);
  void log_exhaustion(Worker& w);
  void pause_accepting(Worker& w);
  void resume_accepting(Worker& w);
  bool allowed_by_policy(int fd) const;
  void adopt(Worker& w, Fd fd, std::string peer, std::shared_ptr<ServerEvent> event);
  // options.on_event for a connection that was not admitted (`event` may be null).
  void report_refusal(const std::shared_ptr<ServerEvent>& event, ServerEvent::Kind kind) const;
  void report_close(ServerEvent* event, ServerEvent::Close how, std::error_code reason,
                    const ConnectionStats* traffic) const;
  void arm_idle_timer(Worker& w, Connection* c, std::chrono::steady_clock::duration delay);
  void check_idle(Worker& w, Connection* c);
  // In nanoseconds, so a 1 ms timeout does not round to checks of 0 ms.
  std::chrono::steady_clock::duration idle_check_interval() const {
    return std::chrono::steady_clock::duration(options.idle_timeout) / kIdleChecksPerTimeout;
  }
  void on_closed(Worker& w, Connection& c, std::error_code reason);
};

Status Server::Impl::open_workers() {
  const unsigned n = std::max(1u, options.threads);
  const bool is_tcp = address.transport() == Transport::tcp;
  Address bind_address = address;
  for (unsigned i = 0; i < n; ++i) {
    auto w = std::make_unique<Worker>();
    event::LoopOptions loop_options = options.loop;
    loop_options.backend = options.backend;
    // Each worker loop runs on its own thread for its whole life (start() to
    // shutdown()), which is what io_uring's single-issuer mode asks.
    loop_options.io_uring_single_thread = true;
    auto loop = event::EventLoop::create(loop_options);
    if (!loop) return fail(loop.error());
    w->loop = std::move(*loop);
    // TCP: a listener per worker (SO_REUSEPORT). Unix: only worker 0 listens.
    //
    // The reuseport group must not take in another server by accident: the kernel
    // lets any socket of the same uid that set SO_REUSEPORT before its bind join a
    // group, so a second `sockit echo --threads 2` on the same port would silently
    // get half the clients. Worker 0 therefore binds and listens WITHOUT
    // SO_REUSEPORT: if anything already listens on the port (with SO_REUSEPORT or
    // not) that fails with EADDRINUSE, exactly as a one-thread server does. Only
    // then is SO_REUSEPORT turned on for it (the kernel checks the flag of the
    // sockets already bound when a new one binds, so setting it after listen(2)
    // is enough), and workers 1..n-1 join with it set before their bind. A second
    // server doing the same fails at its worker 0. What remains possible is a
    // program that itself sets SO_REUSEPORT under our uid joining later: that is
    // sharing it asked for, and the kernel has no way to refuse it short of a
    // different uid. (One listening socket watched by every worker would close
    // that too, but wakes every worker for each connection and, for UDP, would
    // let one sender's datagrams be echoed out of order across threads.)
    if (i == 0 || is_tcp) {
      ListenOptions lo = options.listen;
      if (is_tcp && n > 1) lo.reuse_port = i > 0 || lo.reuse_port;
      auto listener = listen(bind_address, lo);
      if (!listener) return fail(listener.error());
      if (i == 0) {
        auto bound = listener->local_address();
        if (!bound) return fail(bound.error());
        if (is_tcp) bind_address = *bound;  // the other workers join the real port
        if (is_tcp && n > 1 && !lo.reuse_port) {
          if (auto s = listener->set_reuse_port(true); !s) return fail(s.error());
        }
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
  // Free one descriptor, take the pending connection off the queue and close it:
  // the client gets a prompt close instead of waiting in a backlog we cannot serve.
  // Only a connection really taken off the queue counts as shed.
  w.reserve_fd.reset();
  bool took_one = false;
  if (auto victim = w.listener.accept_fd(Deadline::after(std::chrono::milliseconds(0)))) {
    if (options.on_event) report_refusal(peer_event(victim->get(), address.transport()), ServerEvent::Kind::shed);
    victim->reset();
    bump(shed);
    took_one = true;
    log_exhaustion(w);
  }
  w.reserve_fd.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  // Linux's accept4 takes a descriptor number before it looks at the queue, so at
  // the limit it fails with EMFILE even when nobody is waiting. An edge-triggered
  // or io_uring accept would retry that at once, forever: 100% CPU. So once the
  // queue is empty (or the reserve is gone), accepting pauses; it resumes when one
  // of our connections closes or after kAcceptPause, and a client arriving
  // meanwhile waits in the backlog at most that long before being served or shed.
  if (!took_one || !w.reserve_fd.valid()) pause_accepting(w);
}

void Server::Impl::log_exhaustion(Worker& w) {
  // At most one line per kExhaustionLogInterval per worker: a flood of clients
  // must not become a flood of log lines.
  const auto now = std::chrono::steady_clock::now();
  if (w.last_exhaustion_log.time_since_epoch().count() != 0 && now - w.last_exhaustion_log < kExhaustionLogInterval) {
    return;
  }
  w.last_exhaustion_log = now;
  if (options.log) options.log("out of file descriptors: shedding new connections until some close");
}

void Server::Impl::pause_accepting(Worker& w) {
  if (w.accept_paused) return;
  w.accept_paused = true;
  w.accept_io.reset();
  w.accept_retry = w.loop->run_after(kAcceptPause, [this, &w] { resume_accepting(w); });
}

void Server::Impl::resume_accepting(Worker& w) {
  if (!w.accept_paused || w.draining) return;
  w.accept_paused = false;
  w.accept_retry.cancel();
  if (!w.reserve_fd.valid()) w.reserve_fd.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  (void)start_accepting(w);
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
  const bool is_unix = address.is_unix();
  using Kind = ServerEvent::Kind;
  std::shared_ptr<ServerEvent> event = options.on_event ? peer_event(fd->get(), address.transport()) : nullptr;
  // select cannot watch a descriptor at or above FD_SETSIZE. create() lowered
  // max_connections to what fits, but descriptors opened elsewhere in the process
  // (or connections still being torn down) can push a new one past it: that is
  // the backend's connection cap, so it is refused as over max_connections, not
  // left to fail as an error after it was admitted.
  if (descriptor_limit > 0 && fd->get() >= descriptor_limit) {
    bump(refused_max);
    report_refusal(event, Kind::refused_max_connections);
    return;
  }
  if (is_unix && !allowed_by_policy(fd->get())) {
    bump(refused_policy);
    report_refusal(event, Kind::refused_policy);
    return;  // Fd closes: refused before a byte is read
  }
  std::string peer = options.max_connections_per_peer > 0 ? peer_key(fd->get(), is_unix) : std::string();
  switch (admission.admit(peer)) {
    case Verdict::admit: break;
    case Verdict::max_connections: bump(refused_max); report_refusal(event, Kind::refused_max_connections); return;
    case Verdict::per_peer: bump(refused_peer); report_refusal(event, Kind::refused_per_peer); return;
    case Verdict::rate: bump(refused_rate); report_refusal(event, Kind::refused_rate); return;
  }
  bump(accepted);
  if (event) {
    event->kind = Kind::accepted;
    event->id = next_id.fetch_add(1, std::memory_order_relaxed) + 1;
    options.on_event(*event);
  }
  if (is_unix && workers.size() > 1) {
    Worker& target = *workers[next_worker.fetch_add(1) % workers.size()];
    // std::function needs a copyable callable: hand the fd over as a plain int.
    const int raw = fd->release();
    target.loop->post([this, &target, raw, peer = std::move(peer), event = std::move(event)]() mutable {
      adopt(target, Fd(raw), std::move(peer), std::move(event));
    });
    return;
  }
  adopt(w, std::move(*fd), std::move(peer), std::move(event));
}

void Server::Impl::report_refusal(const std::shared_ptr<ServerEvent>& event, ServerEvent::Kind kind) const {
  if (!event) return;
  event->kind = kind;
  options.on_event(*event);
}

void Server::Impl::report_close(ServerEvent* event, ServerEvent::Close how, std::error_code reason,
                                const ConnectionStats* traffic) const {
  if (event == nullptr) return;
  event->kind = ServerEvent::Kind::closed;
  event->close = how;
  event->error = reason;
  if (traffic != nullptr) {
    event->bytes_in = traffic->bytes_in;
    event->bytes_out = traffic->bytes_out;
  }
  options.on_event(*event);
}

void Server::Impl::adopt(Worker& w, Fd fd, std::string peer, std::shared_ptr<ServerEvent> event) {
  if (w.draining) {
    admission.release(peer);
    bump(closed_server);
    report_close(event.get(), ServerEvent::Close::shutdown, {}, nullptr);
    return;
  }
  ConnectionOptions connection_options = options.connection;
  connection_options.totals = &w.traffic;
  auto created = Connection::create(*w.loop, std::move(fd), connection_options);
  if (!created) {
    admission.release(peer);
    bump(closed_error);
    report_close(event.get(), ServerEvent::Close::error, created.error(), nullptr);
    return;
  }
  std::shared_ptr<Connection> c = std::move(*created);
  Connection* key = c.get();
  Tracked tracked;
  tracked.connection = c;
  tracked.peer = std::move(peer);
  tracked.event = std::move(event);
  tracked.progress_seen_at = std::chrono::steady_clock::now();
  w.connections.emplace(key, std::move(tracked));
  if (handler) handler(*c);
  c->on_close([this, &w, user_close = c->take_on_close()](Connection& closed, std::error_code reason) {
    on_closed(w, closed, reason);
    if (user_close) user_close(closed, reason);
  });
  if (options.idle_timeout.count() > 0) arm_idle_timer(w, key, idle_check_interval());
  c->start();
}

void Server::Impl::arm_idle_timer(Worker& w, Connection* c, std::chrono::steady_clock::duration delay) {
  auto it = w.connections.find(c);
  if (it == w.connections.end()) return;
  it->second.idle_timer = w.loop->run_after(std::chrono::duration_cast<std::chrono::nanoseconds>(delay),
                                            [this, &w, c] { check_idle(w, c); });
}

// Progress means the peer is being served: a whole message in, or output it took.
// Bytes in alone are not (a slowloris sends one byte of a frame at a time), and
// output merely queued is not (a peer that never reads must not stay forever).
void Server::Impl::check_idle(Worker& w, Connection* c) {
  auto found = w.connections.find(c);
  if (found == w.connections.end()) return;
  Tracked& t = found->second;
  const auto now = std::chrono::steady_clock::now();
  const ConnectionStats& s = c->stats();
  if (s.messages_in != t.seen_messages_in || s.bytes_out != t.seen_bytes_out) {
    t.seen_messages_in = s.messages_in;
    t.seen_bytes_out = s.bytes_out;
    t.progress_seen_at = now;  // the progress was earlier: never reset before the timeout
  }
  const auto quiet = now - t.progress_seen_at;
  if (quiet >= options.idle_timeout) {
    t.timed_out = true;
    c->abort();
    return;
  }
  // The next check, or the deadline if that comes first: a connection that stays
  // quiet is reset at progress_seen_at + timeout, not a whole interval later.
  arm_idle_timer(w, c, std::min(idle_check_interval(), options.idle_timeout - quiet));
}

void Server::Impl::on_closed(Worker& w, Connection& c, std::error_code reason) {
  auto it = w.connections.find(&c);
  if (it == w.connections.end()) return;
  using Close = ServerEvent::Close;
  Close how = Close::by_peer;
  if (it->second.timed_out) {
    bump(closed_timeout);
    how = Close::idle_timeout;
  } else if (w.draining) {
    bump(closed_server);
    how = Close::shutdown;
  } else if (is_protocol_error(reason)) {
    bump(closed_protocol);
    how = Close::protocol_error;
  } else if (reason) {
    bump(closed_error);
    how = Close::error;
  } else {
    bump(closed_peer);
  }
  report_close(it->second.event.get(), how, reason, &c.stats());
  admission.release(it->second.peer);
  resume_accepting(w);  // a descriptor of ours is free again (no-op unless paused)
  // Destroy the entry after the callback returns: the Connection is still running it.
  auto keep = std::move(it->second.connection);
  w.connections.erase(it);
  w.loop->post([keep = std::move(keep)] {});
}

// --- Server -----------------------------------------------------------------------------

Result<std::unique_ptr<Server>> Server::create(const Address& address, ServerOptions options,
                                               ConnectionHandler handler) {
  // Connection-oriented addresses only: streams, and seqpacket, whose connections
  // run in record mode (one message per record). Datagram sockets have no
  // connections to accept.
  if (address.is_datagram()) return fail(errc::wrong_transport);
  // SO_PEERCRED exists only on Unix sockets: a policy on a TCP address could not be
  // enforced, and serving everyone instead would fail open.
  if (!address.is_unix() && (!options.allowed_uids.empty() || !options.allowed_gids.empty())) {
    return fail(errc::invalid_argument);
  }
  auto impl = std::make_unique<Impl>(address, std::move(options), std::move(handler));
  if (auto s = impl->open_workers(); !s) return fail(s.error());
  auto bound = impl->workers.front()->listener.local_address();
  if (!bound) return fail(bound.error());
  // A backend that cannot watch descriptors past a number (select) serves only as
  // many connections as there are free numbers below it: lower the cap to that,
  // keeping one spare for shed_one's probe. max_connections() reports the result.
  const int limit = impl->workers.front()->loop->backend().descriptor_limit;
  impl->descriptor_limit = limit;
  if (limit > 0) {
    const std::size_t in_use = open_descriptors_below(limit) + 1;
    const std::size_t room = static_cast<std::size_t>(limit) > in_use ? static_cast<std::size_t>(limit) - in_use : 0;
    impl->options.max_connections = std::min(impl->options.max_connections, std::max<std::size_t>(room, 1));
    impl->admission.lower_max_connections(impl->options.max_connections);
  }
  std::unique_ptr<Server> server(new Server(std::move(impl)));
  server->local_address_ = *bound;
  const event::BackendInfo& backend = server->impl_->workers.front()->loop->backend();
  server->backend_name_ = backend.name;
  server->backend_fallbacks_ = backend.fallbacks;
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
  impl_->running.store(true, std::memory_order_release);
  return {};
}

void Server::shutdown(std::chrono::milliseconds deadline) { shutdown(deadline, nullptr); }

void Server::shutdown(std::chrono::milliseconds deadline, const std::function<bool()>& cut_short) {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  impl_->running.store(false, std::memory_order_release);
  if (!impl_->started) return;
  // 1. Stop accepting and ask every connection to finish (flush, FIN).
  for (auto& w : impl_->workers) {
    w->loop->post([&w = *w] {
      w.draining = true;
      w.accept_io.reset();
      w.accept_retry.cancel();
      w.listener.close();
      // close() may finish at once (peer already gone, nothing queued), and
      // finishing erases from w.connections: iterate over a snapshot.
      for (auto& c : snapshot(w.connections)) c->close();
    });
  }
  // 2. Wait for them within the deadline.
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (impl_->admission.active() > 0 && std::chrono::steady_clock::now() < until) {
    if (cut_short && cut_short()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // 3. Reset the rest, then stop the loops.
  for (auto& w : impl_->workers) {
    w->loop->post([&w = *w] {
      for (auto& c : snapshot(w.connections)) c->abort();
      w.loop->stop();
    });
  }
  for (auto& w : impl_->workers) {
    if (w->thread.joinable()) w->thread.join();
  }
}

std::size_t Server::max_connections() const noexcept { return impl_->options.max_connections; }

unsigned Server::threads() const noexcept { return static_cast<unsigned>(impl_->workers.size()); }

namespace {

// TCP_INFO of one worker's connections. Loop thread only: the map and the sockets
// are the loop's.
template <typename Worker>
TcpInfoSummary summarize_tcp(const Worker& w) {
  TcpInfoSummary summary;
  for (const auto& [connection, tracked] : w.connections) {
    // A connection whose socket already failed (reset, closing) has no TCP_INFO
    // worth averaging in: left out.
    if (auto info = connection->tcp_info(); info) summary.add(*info);
  }
  return summary;
}

}  // namespace

TcpInfoSummary Server::tcp_summary(std::chrono::milliseconds within) const {
  const Impl& i = *impl_;
  TcpInfoSummary total;
  if (i.address.transport() != Transport::tcp || !i.running.load(std::memory_order_acquire)) return total;
  // What the workers' tasks add to; shared, so a task that runs after the wait
  // gave up writes into live memory, and a task never run (its loop stopped)
  // only leaves the wait to end at `within`.
  struct Gathered {
    std::mutex mutex;
    std::condition_variable done;
    TcpInfoSummary total;
    std::size_t waiting = 0;
  };
  auto gathered = std::make_shared<Gathered>();
  std::vector<const Impl::Worker*> others;
  for (const auto& w : i.workers) {
    if (w->loop->in_loop_thread()) {
      total += summarize_tcp(*w);
    } else {
      others.push_back(w.get());
    }
  }
  gathered->waiting = others.size();
  for (const Impl::Worker* w : others) {
    w->loop->post([w, gathered] {
      const TcpInfoSummary part = summarize_tcp(*w);
      std::lock_guard lock(gathered->mutex);
      gathered->total += part;
      --gathered->waiting;
      gathered->done.notify_all();
    });
  }
  std::unique_lock lock(gathered->mutex);
  gathered->done.wait_for(lock, within, [&] { return gathered->waiting == 0; });
  total += gathered->total;  // the workers that answered in time
  return total;
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
  s.closed_by_protocol_error = load(i.closed_protocol);
  s.closed_by_error = load(i.closed_error);
  s.closed_by_server = load(i.closed_server);
  for (const auto& w : i.workers) {
    s.bytes_in += load(w->traffic.bytes_in);
    s.bytes_out += load(w->traffic.bytes_out);
    s.messages_in += load(w->traffic.messages_in);
    s.messages_out += load(w->traffic.messages_out);
    s.loops += w->loop->stats();
  }
  return s;
}

}  // namespace sockit::net
