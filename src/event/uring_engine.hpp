// UringEngine: the completion engine on io_uring (internal).
//
// Each IoHandle operation becomes one kernel request: a multishot accept, a
// multishot receive into the provided-buffer ring (BufferRing), a send (sendmsg
// when there are several buffers), a connect; eventfd and signalfd receive through single-shot reads into a buffer of
// the slot's own. Requests are only queued by update(); wait() submits the whole
// batch and waits in the same io_uring_enter, so a loop turn costs one syscall
// however many operations it started. The exception is remove(): a request in the
// kernel holds a reference to its file, so a handle's cancellations are submitted
// at once, or the caller's close() right after would not close the socket.
//
// Zero-copy sends: a lent send (IoHandle::send with an owner) of at least
// send_zc_threshold bytes on a socket becomes an IORING_OP_SEND_ZC (SENDMSG_ZC for
// several buffers) with IORING_SEND_ZC_REPORT_USAGE. Its request ends with two completions: the send's
// result (flagged IORING_CQE_F_MORE) and, once the kernel has released the pages,
// a notification (IORING_CQE_F_NOTIF). The result is kept in the slot's OpMemory
// and reported only with the notification, so the caller never reuses bytes the
// kernel still reads; the owner stays in OpMemory (and the orphan table, if the
// handle goes away) until then. The notification says whether the kernel copied
// the bytes after all (loopback, veth, a device without scatter-gather): then,
// with send_zc_adaptive, the slot sends plainly from then on (SlotState::zc_off).
// A socket that refuses zero copy (EOPNOTSUPP: Unix sockets) is counted, marked
// and the same send re-armed as a plain sendmsg.
//
// Features the kernel lacks fall back one by one (uring_features.hpp): single-shot
// accept or receive, re-armed after each completion, and receives into per-slot
// buffers when there is no buffer ring.
//
// user_data layout (never a raw fd: a descriptor number is reused as soon as it is
// closed, a slot generation is not):
//     bits  0..31  slot index
//     bits 32..55  slot generation, low 24 bits
//     bits 56..62  operation (UringOp); 0 marks requests whose completions are
//                  ignored (cancellations)
//     bit  63      the request is a POLL_ADD standing in for the operation: where
//                  an older kernel answered EAGAIN instead of waiting, and always
//                  for IoHandle::wait_readable / wait_writable (the slot's
//                  receive_readiness / send_readiness flag tells the two apart)
// A completion whose generation does not match the slot's current one belongs to a
// registration that is gone: its provided buffer is recycled, an accepted
// descriptor is closed, and nothing reaches the core. 24 bits of generation would
// only alias if a request outlived 16 million reuses of its slot.
//
// Request state, per slot and operation: idle, armed, or cancelling. Every armed
// request ends with exactly one completion without IORING_CQE_F_MORE, and only then
// is the operation idle again and re-armed if still wanted, so at most one request
// per slot and operation is ever in flight and their completions cannot be
// confused. Memory a request points at (msghdr, iovecs, the connect address, a
// per-slot receive buffer) lives in an OpMemory shared with an orphan table while a
// removed slot's requests drain.
//
// Callbacks run only from wait(). CQEs are copied out and the CQ advanced before
// any is dispatched, so a callback that starts, stops or destroys operations (and
// so calls update() or remove() and queues new requests) never disturbs the batch.
// While a multishot callback runs, the core has moved that callback out of the
// slot; update() must not take that for "stopped" and cancel the request, so the
// engine remembers which slot and operation it is dispatching.
//
// A receive paused while its multishot request is still in flight may see data the
// kernel had already read: that data is copied aside (stash) and delivered, in
// order, after resume_receive(), so pausing never loses or reorders bytes. The
// pause's cancellation is submitted at once (like a close's), so the stash holds
// only what the kernel completed before the pause. A multishot receive reads
// ahead into the buffer ring for as long as the peer sends, though, so a slot
// that has been paused once (its owner pushes back: a peer that does not read)
// switches to single-shot receives, one buffer at a time, each armed after the
// last one's callback: from then on a paused slot's peer is held by its socket
// buffer, as on the readiness backends. Read-ahead is thus at most one ring's
// worth (receive_buffer_count x receive_buffer_size), once per connection.
//
// The hang-up watch. A multishot receive can miss a reset that arrives together
// with data (found by the hostile battery, about 1 connection in a few hundred; the
// kernels of 2025-2026 at least, see liburing issue #1549 for the same race with
// EOF on AF_UNIX). The data's wakeup and the reset's are merged into one run of the
// request, which reads the data; the kernel's "more to read?" hint (msg_inq) counts a
// FIN but not a pending error, so the request does not look again, and the reset's
// wakeup has already been spent: the connection never sees its close. Beside each
// multishot receive the engine therefore arms a single-shot POLL_ADD that wakes only
// for POLLERR / POLLHUP / POLLRDHUP (UringOp::kHangup: a separate waiter, so no other
// wakeup can absorb it). When it has fired and the multishot receive is still armed
// one (non-blocking) turn later, without having reported an end of stream or an
// error, that receive is cancelled and re-armed: the fresh request reads what is
// left, then the error or end of stream, in order. It costs one SQE and one CQE per
// connection (and a cancel with the slot), plus a cancel and re-arm for the rare
// hang-up the receive did not report by itself; a data wakeup only passes the
// watch's mask test.
// The watch fires once per registration (a hang-up is a state, not an event: re-armed,
// it would fire again at once).
//
// Loop thread only.
#pragma once

#include <liburing.h>
#include <sys/socket.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <vector>

#include "event/engine.hpp"
#include "event/uring_buffer_ring.hpp"
#include "event/uring_features.hpp"

namespace sockit::event {

enum class UringOp : std::uint8_t { kNone = 0, kAccept = 1, kReceive = 2, kSend = 3, kConnect = 4, kHangup = 5 };
inline constexpr std::size_t kUringOpCount = 5;

struct UringUserData {
  static constexpr std::uint32_t kGenerationMask = 0xFF'FFFF;
  static constexpr std::uint8_t kPollBit = 0x80;  // the POLL_ADD standing in for `op` after EAGAIN

  std::uint32_t index = 0;
  std::uint32_t generation = 0;  // low 24 bits only
  UringOp op = UringOp::kNone;
  bool poll = false;

  static std::uint64_t pack(SlotRef ref, UringOp op, bool poll = false) {
    const std::uint8_t tag = static_cast<std::uint8_t>(op) | (poll ? kPollBit : 0);
    return std::uint64_t{ref.index} | (std::uint64_t{ref.generation & kGenerationMask} << 32) |
           (std::uint64_t{tag} << 56);
  }
  static UringUserData unpack(std::uint64_t v) {
    const auto tag = static_cast<std::uint8_t>(v >> 56);
    const std::uint8_t op = tag & ~kPollBit;
    return {static_cast<std::uint32_t>(v), static_cast<std::uint32_t>(v >> 32) & kGenerationMask,
            op <= kUringOpCount ? static_cast<UringOp>(op) : UringOp::kNone, (tag & kPollBit) != 0};
  }
};

class UringEngine final : public Engine {
 public:
  static Result<std::unique_ptr<Engine>> create(LoopCore& core, const LoopOptions& options);
  ~UringEngine() override;

  [[nodiscard]] const BackendInfo& info() const override { return info_; }
  [[nodiscard]] Status add(SlotRef ref, Slot& slot) override;
  void remove(SlotRef ref, Slot& slot) override;
  void update(SlotRef ref, Slot& slot) override;
  // Every send is a request batched into the next wait: nothing is written at once.
  [[nodiscard]] bool sends_at_once() const override { return false; }
  [[nodiscard]] Status wait(std::optional<std::chrono::nanoseconds> timeout) override;

 private:
  enum class Phase : std::uint8_t { kIdle, kArmed, kCancelling };
  struct OpState {
    Phase phase = Phase::kIdle;
    bool polling = false;  // armed as a POLL_ADD because the operation said EAGAIN
  };
  // What the kernel may read (until submission) or write (until completion).
  struct OpMemory {
    msghdr message{};
    std::vector<iovec> iov;
    std::unique_ptr<Endpoint> address;  // connect only: 136 bytes an accepted socket never needs
    std::vector<std::byte> buffer;      // receives without the buffer ring
    // A zero-copy send in flight: the caller's bytes stay alive through `owner`
    // until the notification; `zc_result` holds the send's result until then.
    std::shared_ptr<const void> owner;
    std::int32_t zc_result = 0;
    bool zc_in_flight = false;
    bool zc_result_seen = false;
  };
  struct Stashed {
    std::vector<std::byte> bytes;
    std::error_code error;  // set: an error; else bytes (empty: end of stream)
  };
  // Bytes read before a pause reached the kernel, in order. Rare, so a vector and
  // a read index that hold nothing when empty: an empty std::deque allocates about
  // 600 bytes in libstdc++, which every idle connection would pay.
  struct StashQueue {
    std::vector<Stashed> items;
    std::size_t next = 0;
    [[nodiscard]] bool empty() const { return next == items.size(); }
    void push_back(Stashed item) { items.push_back(std::move(item)); }
    Stashed pop_front() {
      Stashed item = std::move(items[next++]);
      if (empty()) *this = StashQueue();
      return item;
    }
  };
  struct SlotState {
    std::uint32_t generation = 0;
    bool live = false;
    bool zc_off = false;  // the socket refused zero copy, or the kernel copied anyway
    bool receive_bounded = false;  // paused once: single-shot receives from now on
    bool hangup_seen = false;      // the hang-up watch has fired (see the header)
    std::array<OpState, kUringOpCount> ops{};
    std::shared_ptr<OpMemory> memory;
    StashQueue stash;
    OpState& op(UringOp o) { return ops[static_cast<std::size_t>(o) - 1]; }
  };
  struct Dispatching {
    SlotRef ref;
    UringOp op = UringOp::kNone;
  };

  UringEngine(LoopCore& core, const LoopOptions& options, UringFeatures features);
  Status init(const LoopOptions& options);

  // --- requests (uring_engine.cpp) ---
  SlotState* state(SlotRef ref);
  OpMemory& memory(SlotState& st);
  void sync(SlotRef ref, Slot& slot, SlotState& st);
  void reconcile(SlotRef ref);
  io_uring_sqe* next_sqe();
  // False on a single-issuer ring from any thread but its own (or before it is
  // enabled): the request waits in the SQ for the next wait().
  [[nodiscard]] bool may_submit() const;
  Status enable_on_this_thread();
  void arm(SlotRef ref, Slot& slot, SlotState& st, UringOp op);
  void arm_poll(SlotRef ref, int fd, SlotState& st, UringOp op, unsigned events);
  void prep_receive(io_uring_sqe* sqe, Slot& slot, SlotState& st);
  [[nodiscard]] bool receives_multishot(const Slot& slot, const SlotState& st) const;
  void prep_send(io_uring_sqe* sqe, Slot& slot, SlotState& st);
  [[nodiscard]] bool wants_zero_copy(const Slot& slot, const SlotState& st) const;
  void cancel(SlotRef ref, SlotState& st, UringOp op);
  void cancel_request(std::uint64_t user_data);

  // --- completions (uring_completions.cpp) ---
  void harvest_into(std::vector<io_uring_cqe>& batch);
  void dispatch(const io_uring_cqe& cqe);
  void drop_stale(const io_uring_cqe& cqe, const UringUserData& ud, bool final);
  void on_accept(SlotRef ref, SlotState& st, const io_uring_cqe& cqe, bool poll);
  void on_receive(SlotRef ref, SlotState& st, const io_uring_cqe& cqe, bool poll);
  void on_send(SlotRef ref, SlotState& st, const io_uring_cqe& cqe, bool poll);
  [[nodiscard]] std::optional<int> zero_copy_result(SlotState& st, OpMemory& m, const io_uring_cqe& cqe);
  void on_connect(SlotRef ref, SlotState& st, const io_uring_cqe& cqe, bool poll);
  void on_hangup(SlotRef ref, SlotState& st, const io_uring_cqe& cqe);
  void recheck_after_hangups();
  void release_buffer(const io_uring_cqe& cqe);
  bool deliver_receive(SlotRef ref, Result<std::span<const std::byte>> result);
  void flush_stash(SlotRef ref);
  void drain_for_exit();

  LoopCore& core_;
  BackendInfo info_;
  UringFeatures features_;
  std::size_t own_buffer_size_ = 0;  // per-slot receive buffer when the ring can't be used
  std::size_t zc_threshold_ = 0;     // 0: no zero-copy sends
  bool zc_adaptive_ = true;

  std::unique_ptr<BufferRing> buffers_;  // unmapped after io_uring_queue_exit (see the destructor)
  io_uring ring_{};
  bool ring_live_ = false;
  bool single_issuer_ = false;  // LoopOptions::io_uring_single_thread, granted
  bool enabled_ = true;         // false until a single-issuer ring's first wait()
  std::thread::id issuer_;

  std::deque<SlotState> states_;  // by slot index; a deque so references survive growth
  std::unordered_map<std::uint64_t, std::shared_ptr<OpMemory>> orphans_;  // removed slots' requests
  std::size_t in_flight_ = 0;  // requests awaiting their final completion
  std::vector<io_uring_cqe> batch_;
  std::vector<SlotRef> resumed_;  // slots with stashed data whose receive resumed
  std::vector<SlotRef> hangups_;          // this batch's hang-up watches that fired
  std::vector<SlotRef> hangups_waiting_;  // ... and the last batch's, whose receive got one more turn
  std::vector<SlotRef> retry_;    // slots whose request found the SQ full even after a submit
  std::vector<std::uint64_t> retry_cancels_;
  std::optional<Dispatching> dispatching_;
  bool dispatching_batch_ = false;  // wait() is dispatching a batch: remove() defers its submit
  bool cancels_pending_ = false;    // ... and some remove() queued cancellations meanwhile
  bool shutting_down_ = false;
};

}  // namespace sockit::event
