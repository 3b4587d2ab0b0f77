// The io_uring engine's life cycle and the request side: turning a slot's wanted
// operations into queued SQEs (arm) and withdrawn ones into cancellations. The
// completion side is uring_completions.cpp; the design is in uring_engine.hpp.
#include "event/uring_engine.hpp"

#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "event/loop_core.hpp"
#include "sys/error.hpp"

namespace sockit::event {

namespace {

// Receives without the buffer ring read into a buffer of the slot's own. Sockets
// get up to 16 KiB (one per connection, so not the ring's 64 KiB); eventfd and
// signalfd need 8 and 128 bytes a read.
constexpr std::size_t kOwnSocketBufferMax = 16 * 1024;
constexpr std::size_t kOwnReadBufferMax = 4096;
constexpr std::uint16_t kBufferGroup = 0;

}  // namespace

Result<std::unique_ptr<Engine>> make_uring_engine(LoopCore& core, const LoopOptions& options) {
  return UringEngine::create(core, options);
}

Result<std::unique_ptr<Engine>> UringEngine::create(LoopCore& core, const LoopOptions& options) {
  UringFeatures features = uring_effective_features();
  if (!features.usable) return fail(sys::error_from_errno(features.refused_errno));
  std::unique_ptr<UringEngine> engine(new UringEngine(core, options, std::move(features)));
  if (auto s = engine->init(options); !s) return fail(s.error());
  return std::unique_ptr<Engine>(std::move(engine));
}

UringEngine::UringEngine(LoopCore& core, const LoopOptions& options, UringFeatures features)
    : core_(core),
      features_(std::move(features)),
      own_buffer_size_(std::clamp<std::size_t>(options.receive_buffer_size, 1, kOwnSocketBufferMax)),
      zc_threshold_(options.send_zc_threshold),
      zc_adaptive_(options.send_zc_adaptive) {}

Status UringEngine::init(const LoopOptions& options) {
  info_.name = "io_uring";
  std::vector<std::string> setup_features;
  std::vector<std::string> setup_fallbacks;
  if (int r = uring_init_ring(ring_, options.io_uring_entries, options.io_uring_cq_entries, options.io_uring_single_thread,
                              setup_features, setup_fallbacks); r < 0) {
    return fail(sys::error_from_errno(-r));
  }
  ring_live_ = true;
  // Created disabled: enabled (and bound to its thread) by the first wait().
  single_issuer_ = (ring_.flags & IORING_SETUP_SINGLE_ISSUER) != 0;
  enabled_ = (ring_.flags & IORING_SETUP_R_DISABLED) == 0;

  if (features_.provided_buffers) {
    auto ring = BufferRing::create(ring_, kBufferGroup, options.receive_buffer_count, options.receive_buffer_size,
                                   features_.incremental_buffers);
    if (ring) {
      buffers_ = std::move(*ring);
    } else {
      features_.provided_buffers = false;
      features_.fallbacks.push_back(
          std::string(kFeatureProvidedBuffers) + ": " + std::to_string(options.receive_buffer_count) +
          " buffers of " + std::to_string(options.receive_buffer_size) + " bytes: " + ring.error().message());
      if (features_.multishot_recv) {
        features_.multishot_recv = false;
        features_.fallbacks.push_back(std::string(kFeatureMultishotRecv) + ": needs provided buffers");
      }
    }
  }
  if (features_.provided_buffers) info_.features.emplace_back(kFeatureProvidedBuffers);
  if (buffers_ && buffers_->incremental()) {
    info_.features.emplace_back(kFeatureIncrementalBuffers);
  } else if (buffers_) {
    features_.fallbacks.push_back(std::string(kFeatureIncrementalBuffers) +
                                  (features_.incremental_buffers ? ": refused by the kernel (before 6.12)"
                                                                 : ": disabled for testing") +
                                  ": every receive takes a whole buffer");
  }
  if (features_.multishot_accept) info_.features.emplace_back(kFeatureMultishotAccept);
  if (features_.multishot_recv) info_.features.emplace_back(kFeatureMultishotRecv);
  if (features_.cqe_skip) info_.features.emplace_back("cqe-skip-success");
  if (features_.send_zc && zc_threshold_ == 0) {
    features_.send_zc = false;
    features_.fallbacks.push_back(std::string(kFeatureSendZc) + ": off (send_zc_threshold 0)");
  }
  if (features_.send_zc) {
    info_.features.emplace_back(kFeatureSendZc);
    info_.zero_copy_threshold = zc_threshold_;
  }
  info_.features.insert(info_.features.end(), setup_features.begin(), setup_features.end());
  info_.fallbacks = features_.fallbacks;
  info_.fallbacks.insert(info_.fallbacks.end(), setup_fallbacks.begin(), setup_fallbacks.end());
  return {};
}

UringEngine::~UringEngine() {
  if (!ring_live_) return;
  // Every request must be finished before the buffers it may write into are
  // unmapped; cancelling and reaping them (bounded) makes the teardown quiet.
  // A single-issuer ring can only be entered from its own thread: from any other
  // (a server destroying its stopped loops), io_uring_queue_exit cancels what is
  // in flight, and the buffer ring's mappings outlive the registration (see
  // uring_buffer_ring.hpp).
  if (may_submit()) drain_for_exit();
  io_uring_queue_exit(&ring_);
}

// --- slots ---------------------------------------------------------------------------------

UringEngine::SlotState* UringEngine::state(SlotRef ref) {
  if (ref.index >= states_.size()) return nullptr;
  SlotState& st = states_[ref.index];
  return st.live && st.generation == ref.generation ? &st : nullptr;
}

UringEngine::OpMemory& UringEngine::memory(SlotState& st) {
  if (!st.memory) st.memory = std::make_shared<OpMemory>();
  return *st.memory;
}

Status UringEngine::add(SlotRef ref, Slot&) {
  while (states_.size() <= ref.index) states_.emplace_back();
  SlotState& st = states_[ref.index];
  st = SlotState{};
  st.generation = ref.generation;
  st.live = true;
  return {};
}

void UringEngine::remove(SlotRef ref, Slot&) {
  SlotState* st = state(ref);
  if (st == nullptr) return;
  bool cancelled = false;
  for (std::size_t i = 0; i < kUringOpCount; ++i) {
    const auto op = static_cast<UringOp>(i + 1);
    const OpState o = st->op(op);
    if (o.phase == Phase::kIdle) continue;
    const std::uint64_t user_data = UringUserData::pack(ref, op, o.polling);
    // The request may still read its msghdr (until submitted) or write its buffer.
    if (st->memory) orphans_.insert_or_assign(user_data, st->memory);
    if (o.phase == Phase::kArmed) {
      cancel_request(user_data);
      cancelled = true;
    }
  }
  // Later completions carry this generation and find the state not live (or, once
  // the index is reused, a different generation): they are dropped.
  *st = SlotState{};
  // A request in the kernel holds a reference to the file, so the caller's close()
  // right after this would not close the socket (no FIN or RST, the port stays
  // bound) until the next turn submitted the cancellation. Closing must be prompt,
  // so the cancellations go now: one extra io_uring_enter per close of a busy
  // handle, the one exception to a single enter per turn.
  // Inside a batch's dispatch (a callback closing its connection: the common case)
  // the cancellations of every close in the batch go in one enter at its end.
  if (cancelled && may_submit()) {
    if (dispatching_batch_) {
      cancels_pending_ = true;
    } else {
      io_uring_submit(&ring_);
    }
  }
}

void UringEngine::update(SlotRef ref, Slot& slot) {
  if (SlotState* st = state(ref)) sync(ref, slot, *st);
}

void UringEngine::reconcile(SlotRef ref) {
  Slot* slot = core_.slot(ref);
  SlotState* st = state(ref);
  if (slot != nullptr && st != nullptr) sync(ref, *slot, *st);
}

void UringEngine::sync(SlotRef ref, Slot& slot, SlotState& st) {
  // A multishot callback that is running has been moved out of the slot; that is
  // not a request to stop (the dispatcher reconciles after the callback returns).
  auto dispatching = [&](UringOp op) {
    return dispatching_ && dispatching_->op == op && dispatching_->ref.index == ref.index &&
           dispatching_->ref.generation == ref.generation;
  };

  if (slot.accepting()) {
    if (st.op(UringOp::kAccept).phase == Phase::kIdle) arm(ref, slot, st, UringOp::kAccept);
  } else if (st.op(UringOp::kAccept).phase == Phase::kArmed && !dispatching(UringOp::kAccept)) {
    cancel(ref, st, UringOp::kAccept);
  }

  // A receive being cancelled (paused) is re-armed when its final completion
  // arrives, not now: two requests in flight could not be told apart.
  if (slot.receiving()) {
    if (st.op(UringOp::kReceive).phase == Phase::kIdle) arm(ref, slot, st, UringOp::kReceive);
    if (!st.stash.empty()) resumed_.push_back(ref);
    // Beside a multishot receive, the watch that catches the hang-up it can miss.
    if (!st.hangup_seen && st.op(UringOp::kHangup).phase == Phase::kIdle && receives_multishot(slot, st)) {
      arm_poll(ref, slot.fd, st, UringOp::kHangup, POLLRDHUP);
    }
  } else if (st.op(UringOp::kReceive).phase == Phase::kArmed && !dispatching(UringOp::kReceive)) {
    cancel(ref, st, UringOp::kReceive);
    st.receive_bounded = true;  // see the header: no more multishot read-ahead
    // A pause is backpressure: until the cancel reaches the kernel the multishot
    // receive goes on filling ring buffers for a peer we mean to stop, and every
    // chunk it completes has to be stashed. Left for the next turn's enter, that was
    // 131 chunks (8 MiB) in the server's never-reading-client test. Submitted now,
    // only what the kernel completed before the pause is stashed. Pauses are rare
    // (a queue crossing its high-water mark), so the extra enter is cheap.
    if (may_submit()) io_uring_submit(&ring_);
  }

  // Send and connect are single-shot and are never withdrawn (only remove() does).
  if (slot.sending() && st.op(UringOp::kSend).phase == Phase::kIdle) arm(ref, slot, st, UringOp::kSend);
  if (slot.connecting() && st.op(UringOp::kConnect).phase == Phase::kIdle) {
    arm(ref, slot, st, UringOp::kConnect);
  }
}

// --- requests ------------------------------------------------------------------------------

io_uring_sqe* UringEngine::next_sqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (sqe == nullptr && may_submit()) {
    // The SQ is full: hand this batch to the kernel now (no completions are reaped,
    // so no callback can run) and take a fresh entry.
    io_uring_submit(&ring_);
    sqe = io_uring_get_sqe(&ring_);
  }
  return sqe;
}

bool UringEngine::may_submit() const {
  return !single_issuer_ || (enabled_ && issuer_ == std::this_thread::get_id());
}

Status UringEngine::enable_on_this_thread() {
  // liburing 2.3 declares io_uring_enable_rings but does not export it.
  if (::syscall(__NR_io_uring_register, ring_.ring_fd, IORING_REGISTER_ENABLE_RINGS, nullptr, 0) < 0)
    return fail(sys::last_error());
  enabled_ = true;
  issuer_ = std::this_thread::get_id();
  // Registered ring descriptors are per thread, so only a ring bound to this
  // thread may use one: each enter then skips the kernel's file lookup. A refusal
  // (before 5.18) costs only that.
  (void)io_uring_register_ring_fd(&ring_);
  return {};
}

void UringEngine::arm(SlotRef ref, Slot& slot, SlotState& st, UringOp op) {
  // wait_readable / wait_writable: a single-shot POLL_ADD in the operation's place;
  // on_receive / on_send see the poll bit and report readiness.
  if (op == UringOp::kReceive && slot.receive_readiness) return arm_poll(ref, slot.fd, st, op, POLLIN);
  if (op == UringOp::kSend && slot.send_readiness) return arm_poll(ref, slot.fd, st, op, POLLOUT);
  io_uring_sqe* sqe = next_sqe();
  if (sqe == nullptr) {
    retry_.push_back(ref);  // wait() tries again before it submits
    return;
  }
  switch (op) {
    case UringOp::kAccept:
      if (features_.multishot_accept) {
        io_uring_prep_multishot_accept(sqe, slot.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      } else {
        io_uring_prep_accept(sqe, slot.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      }
      break;
    case UringOp::kReceive:
      prep_receive(sqe, slot, st);
      core_.counters().add(&LoopStats::receives_armed);
      break;
    case UringOp::kSend:
      prep_send(sqe, slot, st);
      break;
    case UringOp::kConnect: {
      OpMemory& m = memory(st);
      m.address = std::make_unique<Endpoint>(*slot.connect_to);
      io_uring_prep_connect(sqe, slot.fd, m.address->get(), m.address->length);
      break;
    }
    case UringOp::kHangup:  // only ever a POLL_ADD (arm_poll)
    case UringOp::kNone:
      break;
  }
  io_uring_sqe_set_data64(sqe, UringUserData::pack(ref, op));
  st.op(op) = {Phase::kArmed, false};
  ++in_flight_;
}

bool UringEngine::receives_multishot(const Slot& slot, const SlotState& st) const {
  return slot.is_socket && buffers_ && features_.multishot_recv && !st.receive_bounded && !slot.receive_readiness;
}

void UringEngine::prep_receive(io_uring_sqe* sqe, Slot& slot, SlotState& st) {
  if (slot.is_socket && buffers_) {
    // The kernel picks a buffer when bytes arrive; multishot needs len 0.
    if (receives_multishot(slot, st)) {
      io_uring_prep_recv_multishot(sqe, slot.fd, nullptr, 0, 0);
    } else {
      io_uring_prep_recv(sqe, slot.fd, nullptr, buffers_->buffer_size(), 0);
    }
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = buffers_->group();
    return;
  }
  OpMemory& m = memory(st);
  const std::size_t size = slot.is_socket ? own_buffer_size_ : std::min(own_buffer_size_, kOwnReadBufferMax);
  m.buffer.resize(size);  // no request of this slot is using it: the receive is idle
  if (slot.is_socket) {
    io_uring_prep_recv(sqe, slot.fd, m.buffer.data(), size, 0);
  } else {
    // eventfd, signalfd, pipes: read at the current position (offset -1).
    io_uring_prep_read(sqe, slot.fd, m.buffer.data(), static_cast<unsigned>(size), ~std::uint64_t{0});
  }
}

void UringEngine::prep_send(io_uring_sqe* sqe, Slot& slot, SlotState& st) {
  OpMemory& m = memory(st);
  if (!slot.is_socket) {
    m.iov.assign(slot.send_iov.begin(), slot.send_iov.end());
    io_uring_prep_writev(sqe, slot.fd, m.iov.data(), static_cast<unsigned>(m.iov.size()), ~std::uint64_t{0});
    return;
  }
  const bool zero_copy = wants_zero_copy(slot, st);
  if (zero_copy) {
    // The bytes must outlive the request's notification, even if the handle
    // does not: the owner travels with the request's memory.
    m.owner = slot.send_owner;
    m.zc_in_flight = true;
    m.zc_result_seen = false;
  }
  if (slot.send_iov.size() == 1) {
    // One buffer (every Connection send): IORING_OP_SEND[_ZC] takes it directly,
    // without a msghdr and iovec array for the kernel to copy in and check.
    const iovec& only = slot.send_iov.front();
    if (zero_copy) {
      io_uring_prep_send_zc(sqe, slot.fd, only.iov_base, only.iov_len, MSG_NOSIGNAL, IORING_SEND_ZC_REPORT_USAGE);
    } else {
      io_uring_prep_send(sqe, slot.fd, only.iov_base, only.iov_len, MSG_NOSIGNAL);
    }
    return;
  }
  // Copies of the iovecs and msghdr: the kernel reads them at submission
  // (IORING_FEAT_SUBMIT_STABLE), which may come after the slot is freed.
  m.iov.assign(slot.send_iov.begin(), slot.send_iov.end());
  m.message = msghdr{};
  m.message.msg_iov = m.iov.data();
  m.message.msg_iovlen = m.iov.size();
  if (zero_copy) {
    io_uring_prep_sendmsg_zc(sqe, slot.fd, &m.message, MSG_NOSIGNAL);
    sqe->ioprio |= IORING_SEND_ZC_REPORT_USAGE;
  } else {
    io_uring_prep_sendmsg(sqe, slot.fd, &m.message, MSG_NOSIGNAL);
  }
}

bool UringEngine::wants_zero_copy(const Slot& slot, const SlotState& st) const {
  if (!features_.send_zc || st.zc_off || !slot.send_owner) return false;
  std::size_t bytes = 0;
  for (const iovec& v : slot.send_iov) bytes += v.iov_len;
  return bytes >= zc_threshold_;
}

void UringEngine::arm_poll(SlotRef ref, int fd, SlotState& st, UringOp op, unsigned events) {
  io_uring_sqe* sqe = next_sqe();
  if (sqe == nullptr) {
    retry_.push_back(ref);  // re-arms the operation itself, which says EAGAIN again
    return;
  }
  io_uring_prep_poll_add(sqe, fd, events);
  io_uring_sqe_set_data64(sqe, UringUserData::pack(ref, op, true));
  st.op(op) = {Phase::kArmed, true};
  ++in_flight_;
}

void UringEngine::cancel(SlotRef ref, SlotState& st, UringOp op) {
  OpState& o = st.op(op);
  if (o.phase != Phase::kArmed) return;
  cancel_request(UringUserData::pack(ref, op, o.polling));
  o.phase = Phase::kCancelling;
}

void UringEngine::cancel_request(std::uint64_t user_data) {
  io_uring_sqe* sqe = next_sqe();
  if (sqe == nullptr) {
    retry_cancels_.push_back(user_data);
    return;
  }
  io_uring_prep_cancel64(sqe, user_data, 0);
  // The cancelled request's own final completion (-ECANCELED) is what matters;
  // the cancellation's completion carries kNone and is ignored (skipped if it succeeds).
  io_uring_sqe_set_data64(sqe, 0);
  if (features_.cqe_skip) sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
}

}  // namespace sockit::event
