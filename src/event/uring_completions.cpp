// The io_uring engine's completion side: one submit-and-wait per turn, then every
// CQE copied out, the CQ advanced, and each dispatched to the core. The request
// side and the design notes are in uring_engine.{hpp,cpp}.
#include <poll.h>

#include <algorithm>
#include <chrono>
#include <utility>

#include "event/loop_core.hpp"
#include "event/uring_engine.hpp"
#include "sys/error.hpp"
#include "sys/syscalls.hpp"

namespace sockit::event {

namespace {

using std::chrono::nanoseconds;

__kernel_timespec to_timespec(nanoseconds d) {
  const auto ns = std::max<std::int64_t>(d.count(), 0);
  return {.tv_sec = ns / 1'000'000'000, .tv_nsec = ns % 1'000'000'000};
}

bool has_more(const io_uring_cqe& cqe) { return (cqe.flags & IORING_CQE_F_MORE) != 0; }
bool has_buffer(const io_uring_cqe& cqe) { return (cqe.flags & IORING_CQE_F_BUFFER) != 0; }
std::uint16_t buffer_id(const io_uring_cqe& cqe) {
  return static_cast<std::uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
}
// Kernel UAPI newer than liburing 2.3's headers (6.12): the buffer was consumed
// incrementally and the kernel keeps using the rest of it.
constexpr std::uint32_t kCqeBufferMore = 1U << 4;  // IORING_CQE_F_BUF_MORE
bool buffer_more(const io_uring_cqe& cqe) { return (cqe.flags & kCqeBufferMore) != 0; }
std::error_code error_of(const io_uring_cqe& cqe) { return sys::error_from_errno(-cqe.res); }

}  // namespace

Status UringEngine::wait(std::optional<nanoseconds> timeout) {
  // Requests that found the SQ full even after an early submit.
  for (std::uint64_t user_data : std::exchange(retry_cancels_, {})) cancel_request(user_data);
  for (SlotRef ref : std::exchange(retry_, {})) reconcile(ref);
  // Stashed bytes of a resumed receive are ready now, and hang-ups wait for one
  // more look: don't block.
  if (!resumed_.empty() || !hangups_waiting_.empty()) timeout = nanoseconds::zero();

  if (!enabled_) {
    if (auto s = enable_on_this_thread(); !s) return s;
  }
  // One io_uring_enter submits the turn's batch and waits for completions. The
  // Poller contract's EINTR rule holds here too: an interrupted wait with nothing
  // to deliver waits again for the time left, so a signal never ends a turn early.
  const auto deadline = timeout ? std::optional(std::chrono::steady_clock::now() + *timeout) : std::nullopt;
  int r;
  for (;;) {
    if (timeout && *timeout <= nanoseconds::zero()) {
      r = io_uring_submit_and_get_events(&ring_);
    } else if (!timeout) {
      r = io_uring_submit_and_wait(&ring_, 1);
    } else {
      __kernel_timespec ts = to_timespec(*timeout);
      io_uring_cqe* first = nullptr;
      r = io_uring_submit_and_wait_timeout(&ring_, &first, 1, &ts, nullptr);
    }
    core_.counters().add(&LoopStats::syscalls_wait);
    // A signal ends the enter with EINTR, or, if it submitted requests first, with
    // their count: either way, nothing to deliver and time left means wait again.
    if (io_uring_cq_ready(&ring_) > 0 || (r < 0 && r != -EINTR)) break;
    if (timeout && *timeout <= nanoseconds::zero()) break;
    if (deadline) {
      timeout = std::max(nanoseconds::zero(), *deadline - std::chrono::steady_clock::now());
      if (*timeout == nanoseconds::zero()) break;
    }
  }
  // ETIME: the timeout passed; EINTR: a signal at the deadline; EBUSY/EAGAIN: the
  // CQ is backed up (reaping below is the cure).
  if (r < 0 && r != -ETIME && r != -EINTR && r != -EBUSY && r != -EAGAIN)
    return fail(sys::error_from_errno(-r));

  std::vector<io_uring_cqe> batch = std::exchange(batch_, {});
  batch.clear();
  harvest_into(batch);
  // Stashed bytes were read before anything in this batch.
  for (SlotRef ref : std::exchange(resumed_, {})) flush_stash(ref);
  LoopCounters& counters = core_.counters();
  counters.add(&LoopStats::events, batch.size());
  if ((IO_URING_READ_ONCE(*ring_.sq.kflags) & IORING_SQ_CQ_OVERFLOW) != 0) counters.add(&LoopStats::cq_overflow);
  dispatching_batch_ = true;
  for (const io_uring_cqe& cqe : batch) dispatch(cqe);
  dispatching_batch_ = false;
  // The closes of this batch: their sockets really close now, not at the next turn.
  if (std::exchange(cancels_pending_, false) && may_submit()) io_uring_submit(&ring_);
  recheck_after_hangups();
  batch_ = std::move(batch);  // keeps its capacity for the next turn
  return {};
}

void UringEngine::harvest_into(std::vector<io_uring_cqe>& batch) {
  // Copy first, then advance: callbacks may queue requests (and an early submit),
  // and CQ entries must not be overwritten while still being read.
  unsigned head;
  unsigned count = 0;
  io_uring_cqe* cqe;
  io_uring_for_each_cqe(&ring_, head, cqe) {
    batch.push_back(*cqe);
    ++count;
  }
  io_uring_cq_advance(&ring_, count);
}

void UringEngine::dispatch(const io_uring_cqe& cqe) {
  const UringUserData ud = UringUserData::unpack(cqe.user_data);
  if (ud.op == UringOp::kNone) return;  // a cancellation's own completion
  const bool final = !has_more(cqe);
  if (final && in_flight_ > 0) --in_flight_;
  SlotState* st = ud.index < states_.size() ? &states_[ud.index] : nullptr;
  if (shutting_down_ || st == nullptr || !st->live ||
      (st->generation & UringUserData::kGenerationMask) != ud.generation) {
    drop_stale(cqe, ud, final);
    return;
  }
  const SlotRef ref{ud.index, st->generation};
  switch (ud.op) {
    case UringOp::kAccept:
      on_accept(ref, *st, cqe, ud.poll);
      break;
    case UringOp::kReceive:
      on_receive(ref, *st, cqe, ud.poll);
      break;
    case UringOp::kSend:
      on_send(ref, *st, cqe, ud.poll);
      break;
    case UringOp::kConnect:
      on_connect(ref, *st, cqe, ud.poll);
      break;
    case UringOp::kHangup:
      on_hangup(ref, *st, cqe);
      break;
    case UringOp::kNone:
      break;
  }
}

void UringEngine::drop_stale(const io_uring_cqe& cqe, const UringUserData& ud, bool final) {
  if (!ud.poll) {
    if (has_buffer(cqe) && buffers_) release_buffer(cqe);
    // A connection accepted for a listener that is gone: nobody will own it.
    if (ud.op == UringOp::kAccept && cqe.res >= 0) Fd(cqe.res).reset();
  }
  if (final) orphans_.erase(cqe.user_data);
}

void UringEngine::on_accept(SlotRef ref, SlotState& st, const io_uring_cqe& cqe, bool poll) {
  if (!has_more(cqe)) st.op(UringOp::kAccept) = {};
  if (!poll && cqe.res == -EAGAIN && !has_more(cqe)) {
    // An older kernel that answers EAGAIN instead of waiting: wait with a poll.
    if (Slot* slot = core_.slot(ref)) arm_poll(ref, slot->fd, st, UringOp::kAccept, POLLIN);
    return;
  }
  // A poll completion only means "try again"; ECANCELED is our own cancellation.
  if (!poll && cqe.res != -ECANCELED) {
    Result<Fd> result = cqe.res >= 0 ? Result<Fd>(Fd(cqe.res)) : Result<Fd>(fail(error_of(cqe)));
    const auto saved = std::exchange(dispatching_, Dispatching{ref, UringOp::kAccept});
    const bool alive = core_.complete_accept(ref, std::move(result));
    dispatching_ = saved;
    if (!alive) return;
  }
  reconcile(ref);  // re-arms if the request ended and the slot still accepts
}

void UringEngine::on_receive(SlotRef ref, SlotState& st, const io_uring_cqe& cqe, bool poll) {
  if (!has_more(cqe)) st.op(UringOp::kReceive) = {};
  if (Slot* slot = core_.slot(ref); poll && cqe.res >= 0 && slot != nullptr && slot->receive_readiness) {
    // wait_readable(): readiness is an empty chunk, which ends the single-shot wait.
    const auto saved = std::exchange(dispatching_, Dispatching{ref, UringOp::kReceive});
    const bool alive = core_.complete_receive(ref, std::span<const std::byte>());
    dispatching_ = saved;
    if (alive) reconcile(ref);
    return;
  }
  if (cqe.res == -ENOBUFS) core_.counters().add(&LoopStats::buffer_ring_empty);
  if (poll || cqe.res == -ECANCELED || cqe.res == -ENOBUFS) {
    // A poll saying "readable", our own cancellation, or the buffer ring ran dry
    // (the buffers come back as this batch's callbacks return): re-arm, no error.
    if (has_buffer(cqe)) release_buffer(cqe);
    reconcile(ref);
    return;
  }
  if (cqe.res == -EAGAIN && !has_more(cqe)) {
    if (Slot* slot = core_.slot(ref)) arm_poll(ref, slot->fd, st, UringOp::kReceive, POLLIN);
    return;
  }
  // The callback may free the slot (and its memory): keep the bytes alive until
  // it returns.
  const std::shared_ptr<OpMemory> keep = st.memory;
  const auto length = static_cast<std::size_t>(std::max(cqe.res, 0));
  Result<std::span<const std::byte>> result = std::span<const std::byte>();
  if (cqe.res < 0) {
    result = fail(error_of(cqe));
  } else if (has_buffer(cqe)) {
    result = buffers_->bytes(buffer_id(cqe), length);
  } else if (keep) {
    result = std::span<const std::byte>(keep->buffer).first(std::min(keep->buffer.size(), length));
  }
  const bool alive = deliver_receive(ref, std::move(result));
  // Only now, after the callback, may the kernel reuse the buffer.
  if (has_buffer(cqe)) release_buffer(cqe);
  if (alive) reconcile(ref);
}

void UringEngine::release_buffer(const io_uring_cqe& cqe) {
  buffers_->release(buffer_id(cqe), static_cast<std::size_t>(std::max(cqe.res, 0)), buffer_more(cqe));
}

bool UringEngine::deliver_receive(SlotRef ref, Result<std::span<const std::byte>> result) {
  Slot* slot = core_.slot(ref);
  SlotState* st = state(ref);
  if (slot == nullptr || st == nullptr) return false;
  if (slot->receive_fn && (slot->receive_paused || !st->stash.empty())) {
    // Read before the pause reached the kernel, or queued behind such bytes.
    Stashed item;
    if (result) {
      item.bytes.assign(result->begin(), result->end());
    } else {
      item.error = result.error();
    }
    st->stash.push_back(std::move(item));
    return true;
  }
  const auto saved = std::exchange(dispatching_, Dispatching{ref, UringOp::kReceive});
  const bool alive = core_.complete_receive(ref, std::move(result));
  dispatching_ = saved;
  return alive;
}

void UringEngine::flush_stash(SlotRef ref) {
  for (;;) {
    Slot* slot = core_.slot(ref);
    SlotState* st = state(ref);
    if (slot == nullptr || st == nullptr) return;
    if (!slot->receiving() || st->stash.empty()) break;
    Stashed item = st->stash.pop_front();
    Result<std::span<const std::byte>> result = std::span<const std::byte>(item.bytes);
    if (item.error) result = fail(item.error);
    const auto saved = std::exchange(dispatching_, Dispatching{ref, UringOp::kReceive});
    const bool alive = core_.complete_receive(ref, std::move(result));
    dispatching_ = saved;
    if (!alive) return;
  }
  reconcile(ref);
}

// A zero-copy send's completions: the send's result (with F_MORE), then the
// notification that the kernel has released the pages. Returns the result once the
// notification is in, nullopt before; counts the send and acts on the usage report.
std::optional<int> UringEngine::zero_copy_result(SlotState& st, OpMemory& m, const io_uring_cqe& cqe) {
  if (has_more(cqe)) {
    m.zc_result = cqe.res;  // the pages are still the kernel's: report nothing yet
    m.zc_result_seen = true;
    return std::nullopt;
  }
  const bool notification = (cqe.flags & IORING_CQE_F_NOTIF) != 0;
  const int result = notification && m.zc_result_seen ? m.zc_result : cqe.res;
  m.zc_in_flight = false;
  m.owner.reset();
  LoopCounters& counters = core_.counters();
  if (result == -EOPNOTSUPP) {
    counters.add(&LoopStats::zc_refused);  // e.g. a Unix socket: this slot sends plainly from now on
    st.zc_off = true;
    return result;
  }
  counters.add(&LoopStats::zc_sends);
  if (notification && (static_cast<std::uint32_t>(cqe.res) & IORING_NOTIF_USAGE_ZC_COPIED) != 0 && result > 0) {
    counters.add(&LoopStats::zc_copied);
    if (zc_adaptive_) st.zc_off = true;  // zero copy costs here and saves nothing
  }
  return result;
}

void UringEngine::on_send(SlotRef ref, SlotState& st, const io_uring_cqe& cqe, bool poll) {
  int res = cqe.res;
  if (!poll && st.memory && st.memory->zc_in_flight) {
    const std::optional<int> result = zero_copy_result(st, *st.memory, cqe);
    if (!result) return;  // the request stays armed until its notification
    res = *result;
    if (res == -EOPNOTSUPP) {
      st.op(UringOp::kSend) = {};
      reconcile(ref);  // the same send again, plainly (zc_off is set)
      return;
    }
  }
  st.op(UringOp::kSend) = {};
  if (Slot* slot = core_.slot(ref); poll && cqe.res >= 0 && slot != nullptr && slot->send_readiness) {
    if (core_.complete_send(ref, std::size_t{0})) reconcile(ref);  // wait_writable()
    return;
  }
  if (poll) {
    reconcile(ref);  // writable: send again
    return;
  }
  if (res == -EAGAIN) {
    if (Slot* slot = core_.slot(ref)) arm_poll(ref, slot->fd, st, UringOp::kSend, POLLOUT);
    return;
  }
  Result<std::size_t> result = res >= 0 ? Result<std::size_t>(static_cast<std::size_t>(res))
                                        : Result<std::size_t>(fail(sys::error_from_errno(-res)));
  if (core_.complete_send(ref, std::move(result))) reconcile(ref);
}

void UringEngine::on_connect(SlotRef ref, SlotState& st, const io_uring_cqe& cqe, bool poll) {
  st.op(UringOp::kConnect) = {};
  Slot* slot = core_.slot(ref);
  if (slot == nullptr) return;
  Status status;
  if (poll) {
    // An older kernel handed back EINPROGRESS; the socket is now writable and
    // SO_ERROR holds the outcome.
    auto err = sys::get_option<int>(slot->fd, SOL_SOCKET, SO_ERROR);
    if (!err) {
      status = fail(err.error());
    } else if (*err != 0) {
      status = fail(sys::error_from_errno(*err));
    }
  } else if (cqe.res == -EINPROGRESS || cqe.res == -EALREADY) {
    // Not EAGAIN: on a Unix socket it means the listener's backlog is full and
    // nothing is in progress; an unconnected Unix socket polls writable at once, so
    // waiting would read SO_ERROR 0 as success. It is the error, as on the
    // readiness backends.
    arm_poll(ref, slot->fd, st, UringOp::kConnect, POLLOUT);
    return;
  } else if (cqe.res < 0) {
    status = fail(error_of(cqe));
  }
  if (core_.complete_connect(ref, std::move(status))) reconcile(ref);
}

void UringEngine::on_hangup(SlotRef ref, SlotState& st, const io_uring_cqe& cqe) {
  st.op(UringOp::kHangup) = {};
  if (cqe.res <= 0) return;  // cancelled with its slot (or an error: nothing to act on)
  st.hangup_seen = true;
  // Acted on after the whole batch: usually the receive's own end (end of stream,
  // the reset's error) is in the same batch, and then there is nothing to do.
  hangups_.push_back(ref);
}

void UringEngine::recheck_after_hangups() {
  // Whether the slot's receive is still armed after its hang-up: then it may have
  // spent that wakeup on data and stopped looking (see the header).
  auto still_armed = [this](SlotRef ref) -> SlotState* {
    SlotState* st = state(ref);  // null: closed meanwhile
    if (st == nullptr) return nullptr;
    const OpState receive = st->op(UringOp::kReceive);
    return receive.phase == Phase::kArmed && !receive.polling ? st : nullptr;
  };
  // Hang-ups of the turn before: their receive had one more turn (a non-blocking
  // one, in which the kernel ran what the hang-up woke) to report the close. A
  // fresh request reads the rest, then the close, in order.
  for (SlotRef ref : std::exchange(hangups_waiting_, {})) {
    if (SlotState* st = still_armed(ref)) {
      core_.counters().add(&LoopStats::hangup_rechecks);
      cancel(ref, *st, UringOp::kReceive);  // its -ECANCELED completion re-arms it
    }
  }
  // This turn's: the receive's own end is usually in the same batch or the next
  // (the kernel runs the two wake-ups separately); only then is a recheck needed.
  for (SlotRef ref : std::exchange(hangups_, {})) {
    if (still_armed(ref) != nullptr) hangups_waiting_.push_back(ref);
  }
}

void UringEngine::drain_for_exit() {
  shutting_down_ = true;  // from here on every completion is stale: no core calls
  for (std::size_t i = 0; i < states_.size(); ++i) {
    SlotState& st = states_[i];
    if (!st.live) continue;
    const SlotRef ref{static_cast<std::uint32_t>(i), st.generation};
    for (std::size_t k = 0; k < kUringOpCount; ++k) cancel(ref, st, static_cast<UringOp>(k + 1));
  }
  for (std::uint64_t user_data : std::exchange(retry_cancels_, {})) cancel_request(user_data);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  std::vector<io_uring_cqe> batch;
  while (in_flight_ > 0 && std::chrono::steady_clock::now() < deadline) {
    __kernel_timespec ts = to_timespec(std::chrono::milliseconds(100));
    io_uring_cqe* first = nullptr;
    io_uring_submit_and_wait_timeout(&ring_, &first, 1, &ts, nullptr);
    batch.clear();
    harvest_into(batch);
    for (const io_uring_cqe& cqe : batch) dispatch(cqe);
  }
}

}  // namespace sockit::event
