// The readiness engine: operations on top of a Poller (select, poll, epoll,
// epoll-et). An accept or receive is performed when the poller says the
// descriptor is readable; a send or connect is tried at once and waits for
// writability only if the kernel says EAGAIN / EINPROGRESS.
//
// Trying sends immediately keeps latency at the raw-syscall floor (most sends
// complete at once: no poll round trip). Their completions are queued and
// delivered at the start of the next wait(), which then does not block, because
// callbacks never run inside the call that started the operation.
//
// Interest changes are batched: update() only marks the slot dirty, and the
// kernel is told once, just before the next wait. While a callback runs its slot
// looks idle (the core moves the callback out), so syncing eagerly would cost two
// epoll_ctl calls per callback that starts a send — and, because the core puts
// the callback back without another update(), would leave the interest wrong.
//
// Edge-triggered (epoll-et): reads and accepts go on until the descriptor is
// empty. That is EAGAIN, or, on a stream socket, a read that returned less than
// the buffer: epoll(7) documents a short read as proof that the read space was
// exhausted, and any byte that arrives later raises a new edge. The short read
// saves the recv that would say EAGAIN on about every second wake-up (measured:
// 1.51 recv per chunk against level-triggered's 1.00). The one thing a short read
// does not prove is that no end of stream waits behind the data, so once the
// poller has reported the peer's shutdown (EPOLLRDHUP) the slot drains to EAGAIN
// or end of stream, as it does for datagram sockets, pipes and eventfds (a
// semaphore eventfd reads 8 bytes with more to come). A slot knows
// whether the kernel will report its next readable edge (it drained to EAGAIN, or
// its registration just changed, which makes epoll re-check). A receive or accept
// that starts or resumes without that is tried once at the next wait, without
// blocking, because the edge that announced its data may already have passed.
// Each descriptor gets a bounded number of syscalls per turn in both modes
// (fairness); an edge-triggered one cut short is retried the next turn.
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <vector>

#include "event/engine.hpp"
#include "event/loop_core.hpp"
#include "event/poller.hpp"
#include "sys/error.hpp"
#include "sys/syscalls.hpp"

namespace sockit::event {
namespace {

using Op = ReadinessState::Op;

constexpr int kMaxAcceptsPerEvent = 64;
constexpr int kMaxReadsPerEvent = 4;      // level-triggered: it will be reported again
constexpr int kMaxReadsPerEdge = 16;      // edge-triggered: then retried next turn
constexpr std::size_t kMinScratch = 256;  // a signalfd read needs 128 bytes

struct Deferred {
  SlotRef ref;
  bool is_send;
  Result<std::size_t> result;  // bytes for a send; 0 or the error for a connect
};

bool same(SlotRef a, SlotRef b) { return a.index == b.index && a.generation == b.generation; }

class ReadinessEngine final : public Engine {
 public:
  ReadinessEngine(LoopCore& core, std::unique_ptr<Poller> poller, std::size_t buffer_size)
      : core_(core), poller_(std::move(poller)), edge_(poller_->edge_triggered()), scratch_(buffer_size) {
    info_.name = poller_->name();
    info_.descriptor_limit = poller_->descriptor_limit();
    info_.features = {edge_ ? "edge-triggered" : "level-triggered", "immediate-send"};
  }

  const BackendInfo& info() const override { return info_; }

  Status add(SlotRef ref, Slot& slot) override {
    // Only edge-triggered draining asks (the short-read rule), so only it pays the
    // getsockopt per registration.
    if (edge_ && slot.is_socket) {
      auto type = sys::get_option<int>(slot.fd, SOL_SOCKET, SO_TYPE);
      slot.is_stream = type && *type == SOCK_STREAM;
    }
    return poller_->add(slot.fd, 0, ref.pack());
  }

  void remove(SlotRef ref, Slot& slot) override {
    poller_->remove(slot.fd);
    // Stale dirty_/recheck_ entries are skipped by the generation check in core_.slot().
    std::erase_if(deferred_, [ref](const Deferred& d) { return same(d.ref, ref); });
  }

  void update(SlotRef ref, Slot& slot) override {
    ReadinessState& r = slot.readiness;
    if (!slot.sending()) r.send = Op::idle;
    if (!slot.connecting()) r.connect = Op::idle;
    if (slot.sending() && r.send == Op::idle) start_send(ref, slot);
    if (slot.connecting() && r.connect == Op::idle) start_connect(ref, slot);
    if (!r.dirty) {
      r.dirty = true;
      dirty_.push_back(ref);
    }
  }

  // A send operation makes its syscall when it starts: writing at once is the same.
  bool sends_at_once() const override { return true; }

  Status wait(std::optional<std::chrono::nanoseconds> timeout) override {
    sync_dirty();
    const bool queued = !deferred_.empty() || !recheck_.empty();
    auto n = poller_->wait(queued ? std::optional(std::chrono::nanoseconds::zero()) : timeout, events_);
    core_.counters().add(&LoopStats::syscalls_wait);
    if (!n) return fail(n.error());
    core_.counters().add(&LoopStats::events, *n);
    deliver_deferred();
    run_rechecks();
    for (std::size_t i = 0; i < *n; ++i) dispatch(SlotRef::unpack(events_[i].token), events_[i].events);
    return {};
  }

 private:
  // --- interest ------------------------------------------------------------------------
  void sync_dirty() {
    std::vector<SlotRef> batch;
    batch.swap(dirty_);
    for (SlotRef ref : batch) {
      Slot* slot = core_.slot(ref);
      if (slot == nullptr) continue;
      slot->readiness.dirty = false;
      sync(ref, *slot);
    }
  }

  void sync(SlotRef ref, Slot& slot) {
    ReadinessState& r = slot.readiness;
    const bool wants_read = slot.accepting() || slot.receiving();
    std::uint32_t want = wants_read ? kReadable : 0;
    if (r.send == Op::waiting || r.connect == Op::waiting) want |= kWritable;
    if (want != r.interest) {
      // A failure means the descriptor was closed under its IoHandle (a caller
      // bug); the cached interest stays old so the next update tries again.
      if (!poller_->modify(slot.fd, want, ref.pack())) return;
      r.interest = static_cast<std::uint8_t>(want);
      // epoll_ctl re-polls the descriptor and queues an event if it is ready now
      // (what makes re-arming EPOLLONESHOT safe), so no edge is lost by a change.
      if (edge_ && wants_read) r.edge_armed = true;
    }
    if (!edge_) return;
    // Not watching means edges go unseen; an unchanged registration whose last
    // edge was not drained needs one read without waiting.
    if (!wants_read) r.edge_armed = false;
    if (wants_read && !r.edge_armed) queue_recheck(ref, slot);
  }

  void queue_recheck(SlotRef ref, Slot& slot) {
    if (slot.readiness.recheck_queued) return;
    slot.readiness.recheck_queued = true;
    recheck_.push_back(ref);
  }

  // Entries queued while this runs (a drain cut short again) wait for the next turn.
  void run_rechecks() {
    std::vector<SlotRef> batch;
    batch.swap(recheck_);
    for (SlotRef ref : batch) {
      if (Slot* slot = core_.slot(ref)) {
        slot->readiness.recheck_queued = false;
        dispatch(ref, kReadable);
      }
    }
  }

  // --- readiness -----------------------------------------------------------------------
  void dispatch(SlotRef ref, std::uint32_t ready) {
    Slot* slot = core_.slot(ref);
    if (slot == nullptr) return;
    if (ready & (kHangup | kError)) slot->readiness.peer_hung_up = true;
    if (ready & kReadable) {
      if (edge_) slot->readiness.edge_armed = false;  // a new edge: there may be more
      if (slot->accepting()) {
        do_accept(ref);
      } else if (slot->receiving() && slot->receive_readiness) {
        report_readable(ref);
      } else if (slot->receiving()) {
        do_receive(ref);
      }
    }
    if (!(ready & kWritable)) return;
    slot = core_.slot(ref);
    if (slot != nullptr && slot->readiness.connect == Op::waiting) finish_connect(ref, *slot);
    slot = core_.slot(ref);
    if (slot != nullptr && slot->readiness.send == Op::waiting) finish_send(ref, *slot);
  }

  // EMFILE and friends are reported once per turn and end the turn's accepting:
  // the server layer sheds or pauses; looping on them here would only spin.
  void do_accept(SlotRef ref) {
    for (int i = 0; i < kMaxAcceptsPerEvent; ++i) {
      Slot* slot = core_.slot(ref);
      if (slot == nullptr || !slot->accepting()) return;
      auto fd = sys::accept(slot->fd, nullptr, SOCK_NONBLOCK);
      if (fd) {
        if (!core_.complete_accept(ref, std::move(*fd))) return;
        continue;
      }
      if (sys::is_would_block(fd.error())) {
        slot->readiness.edge_armed = true;
        return;
      }
      if (fd.error() == std::errc::connection_aborted) continue;  // that client gave up
      if (!core_.complete_accept(ref, fail(fd.error()))) return;
      break;
    }
    if (Slot* slot = core_.slot(ref); edge_ && slot != nullptr && slot->accepting())
      queue_recheck(ref, *slot);
  }

  void do_receive(SlotRef ref) {
    const int limit = edge_ ? kMaxReadsPerEdge : kMaxReadsPerEvent;
    for (int i = 0; i < limit; ++i) {
      Slot* slot = core_.slot(ref);
      if (slot == nullptr || !slot->receiving()) return;  // paused: edge mode rechecks on resume
      auto n = slot->is_socket ? sys::recv(slot->fd, scratch_.data(), scratch_.size(), MSG_DONTWAIT)
                               : sys::read(slot->fd, scratch_.data(), scratch_.size());
      if (!n) {
        if (sys::is_would_block(n.error())) {
          slot->readiness.edge_armed = true;
        } else {
          core_.complete_receive(ref, fail(n.error()));
        }
        return;
      }
      if (*n == 0) {
        core_.complete_receive(ref, std::span<const std::byte>());  // end of stream
        return;
      }
      // Read before the callback, which may register descriptors (moving slots).
      const bool short_read = *n < scratch_.size();
      const bool stream = slot->is_stream;
      const bool emptied = short_read && stream && !slot->readiness.peer_hung_up;
      if (!core_.complete_receive(ref, std::span<const std::byte>(scratch_.data(), *n))) return;
      // Level-triggered, a short read on a stream socket means it is (very likely)
      // empty, and if it is not, the poller says so again: skip the read that would
      // say EAGAIN. On a datagram socket every read is short (one datagram), so it
      // reads on, up to the limit: stopping there cost a poll round trip per
      // datagram (`sockit bench`, 64 B over a Unix datagram socket: 0.76 M/s on
      // epoll against 1.23 M/s on epoll-et, which drains).
      if (!edge_ && short_read && stream) return;
      if (edge_ && emptied) {
        if (Slot* s = core_.slot(ref)) s->readiness.edge_armed = true;
        return;
      }
    }
    if (Slot* slot = core_.slot(ref); edge_ && slot != nullptr && slot->receiving())
      queue_recheck(ref, *slot);
  }

  // wait_readable(): the caller reads. Edge-triggered, it may stop before EAGAIN
  // (its own fairness limit), and only a descriptor that is empty now will announce
  // new data with an edge: one poll(2) tells which, at the cost of a syscall per
  // report (level-triggered pollers simply report it again).
  void report_readable(SlotRef ref) {
    if (!core_.complete_receive(ref, std::span<const std::byte>())) return;
    Slot* slot = core_.slot(ref);
    if (!edge_ || slot == nullptr || !slot->receiving()) return;
    if (sys::wait_for(slot->fd, POLLIN, Deadline::at(Deadline::Clock::now()))) {
      queue_recheck(ref, *slot);
    } else {
      slot->readiness.edge_armed = true;
    }
  }

  // --- send and connect ----------------------------------------------------------------
  static Result<std::size_t> try_send(Slot& slot) {
    msghdr message{};
    message.msg_iov = slot.send_iov.data();
    message.msg_iovlen = slot.send_iov.size();
    return sys::sendmsg(slot.fd, message, MSG_DONTWAIT);
  }

  void start_send(SlotRef ref, Slot& slot) {
    slot.readiness.send = Op::started;
    if (slot.send_readiness) {  // wait_writable(): called after EAGAIN, so wait
      slot.readiness.send = Op::waiting;
      return;
    }
    auto sent = try_send(slot);
    if (!sent && sys::is_would_block(sent.error())) {
      slot.readiness.send = Op::waiting;
      return;
    }
    deferred_.push_back({ref, true, std::move(sent)});
  }

  void finish_send(SlotRef ref, Slot& slot) {
    if (slot.send_readiness) {
      slot.readiness.send = Op::started;
      core_.complete_send(ref, std::size_t{0});
      return;
    }
    auto sent = try_send(slot);
    if (!sent && sys::is_would_block(sent.error())) return;  // spurious: keep waiting
    slot.readiness.send = Op::started;
    core_.complete_send(ref, std::move(sent));
  }

  // EAGAIN from connect on a Unix socket means the listener's backlog is full and
  // nothing is in progress: it is reported as the error, not waited on.
  void start_connect(SlotRef ref, Slot& slot) {
    slot.readiness.connect = Op::started;
    auto c = sys::connect(slot.fd, *slot.connect_to);
    if (!c && c.error() == std::errc::operation_in_progress) {
      slot.readiness.connect = Op::waiting;
      return;
    }
    deferred_.push_back({ref, false, c ? Result<std::size_t>(0) : Result<std::size_t>(fail(c.error()))});
  }

  void finish_connect(SlotRef ref, Slot& slot) {
    slot.readiness.connect = Op::started;
    auto err = sys::get_option<int>(slot.fd, SOL_SOCKET, SO_ERROR);
    Status result;
    if (!err) {
      result = fail(err.error());
    } else if (*err != 0) {
      result = fail(sys::error_from_errno(*err));
    }
    core_.complete_connect(ref, result);
  }

  void deliver_deferred() {
    std::vector<Deferred> batch;
    batch.swap(deferred_);
    for (Deferred& d : batch) {
      if (d.is_send) {
        core_.complete_send(d.ref, std::move(d.result));
      } else {
        core_.complete_connect(d.ref, d.result ? Status() : Status(fail(d.result.error())));
      }
    }
  }

  LoopCore& core_;
  std::unique_ptr<Poller> poller_;
  const bool edge_;
  BackendInfo info_;
  std::vector<std::byte> scratch_;  // every receive reads here; the span lives for one callback
  std::vector<SlotRef> dirty_;      // slots whose interest may have changed
  std::vector<SlotRef> recheck_;    // edge-triggered: try to read without waiting
  std::vector<Deferred> deferred_;  // completions of immediate sends and connects
  std::array<ReadyEvent, 256> events_{};
};

}  // namespace

Result<std::unique_ptr<Engine>> make_readiness_engine(LoopCore& core, const std::string& poller,
                                                      const LoopOptions& options) {
  Result<std::unique_ptr<Poller>> p = fail(errc::invalid_argument);
  if (poller == "select") p = make_select_poller();
  if (poller == "poll") p = make_poll_poller();
  if (poller == "epoll") p = make_epoll_poller(false);
  if (poller == "epoll-et") p = make_epoll_poller(true);
  if (!p) return fail(p.error());
  return std::make_unique<ReadinessEngine>(core, std::move(*p),
                                           std::max(options.receive_buffer_size, kMinScratch));
}

}  // namespace sockit::event
