#include "sockit/event/io_handle.hpp"

#include <sys/socket.h>

#include <cassert>
#include <cstdio>
#include <cstdlib>

#include "event/loop_core.hpp"
#include "sys/error.hpp"
#include "sys/syscalls.hpp"

namespace sockit::event {

namespace {

// Readiness waits reuse the receive and send operations' places in the slot (the
// engines already track, arm and cancel those); a flag on the slot tells the
// engine to report readiness instead of moving bytes.
void set_readiness_mode(LoopCore* core, SlotRef ref, bool Slot::*flag, bool on) {
  if (Slot* s = core->slot(ref)) s->*flag = on;
}

}  // namespace

// An operation on a default-constructed, moved-from or reset handle is a bug in the
// caller; say so and stop in every build (one branch), rather than dereference null.
LoopCore* IoHandle::checked_core(const char* operation) const {
  if (core_ == nullptr) {
    std::fprintf(stderr, "sockit: IoHandle::%s on a handle with no loop (default-constructed, moved from or reset)\n",
                 operation);
    std::abort();
  }
  return core_;
}

IoHandle::IoHandle(IoHandle&& other) noexcept
    : core_(std::exchange(other.core_, nullptr)),
      slot_(other.slot_),
      generation_(other.generation_),
      fd_(std::exchange(other.fd_, -1)) {}

IoHandle& IoHandle::operator=(IoHandle&& other) noexcept {
  if (this != &other) {
    reset();
    core_ = std::exchange(other.core_, nullptr);
    slot_ = other.slot_;
    generation_ = other.generation_;
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

IoHandle::~IoHandle() { reset(); }

void IoHandle::reset() {
  if (core_ != nullptr) core_->free_slot({slot_, generation_});
  core_ = nullptr;
  fd_ = -1;
}

void IoHandle::accept(AcceptFn fn) { checked_core("accept")->start_accept({slot_, generation_}, std::move(fn)); }
void IoHandle::receive(ReceiveFn fn) {
  LoopCore* core = checked_core("receive");
  set_readiness_mode(core, {slot_, generation_}, &Slot::receive_readiness, false);
  core->start_receive({slot_, generation_}, std::move(fn));
}
void IoHandle::pause_receive() { checked_core("pause_receive")->set_receive_paused({slot_, generation_}, true); }
void IoHandle::resume_receive() { checked_core("resume_receive")->set_receive_paused({slot_, generation_}, false); }
void IoHandle::send(std::span<const std::span<const std::byte>> buffers, SendFn fn,
                    std::shared_ptr<const void> owner) {
  LoopCore* core = checked_core("send");
  set_readiness_mode(core, {slot_, generation_}, &Slot::send_readiness, false);
  core->start_send({slot_, generation_}, buffers, std::move(fn), std::move(owner));
}
// Inline here rather than through the engine: it runs once per message, and the
// trip through LoopCore and a virtual call cost about 60 instructions of ~650.
Result<std::size_t> IoHandle::send_now(std::span<const std::byte> bytes) {
  LoopCore* core = checked_core("send_now");
  core->assert_loop_thread();
  if (!core->sends_at_once()) return std::size_t{0};  // a completion engine batches its sends
  assert(core->slot({slot_, generation_}) != nullptr && !core->slot({slot_, generation_})->sending() &&
         "sockit: send_now while a send is pending");
  auto sent = sys::send(fd_, bytes.data(), bytes.size(), MSG_DONTWAIT);
  if (!sent && sys::is_would_block(sent.error())) return std::size_t{0};
  return sent;
}
bool IoHandle::sends_zero_copy(std::size_t bytes) const {
  const std::size_t from = checked_core("sends_zero_copy")->backend().zero_copy_threshold;
  return from != 0 && bytes >= from;
}
void IoHandle::connect(const Endpoint& endpoint, ConnectFn fn) {
  checked_core("connect")->start_connect({slot_, generation_}, endpoint, std::move(fn));
}

void IoHandle::wait_readable(ReadyFn fn) {
  LoopCore* core = checked_core("wait_readable");
  set_readiness_mode(core, {slot_, generation_}, &Slot::receive_readiness, true);
  // The engine reports readiness as an empty chunk, which also ends the receive:
  // single-shot, as promised.
  core->start_receive({slot_, generation_},
                       [fn = std::move(fn)](Result<std::span<const std::byte>> r) mutable {
                         fn(r ? Status() : Status(fail(r.error())));
                       });
}

void IoHandle::wait_writable(ReadyFn fn) {
  LoopCore* core = checked_core("wait_writable");
  set_readiness_mode(core, {slot_, generation_}, &Slot::send_readiness, true);
  core->start_send({slot_, generation_}, {}, [fn = std::move(fn)](Result<std::size_t> r) mutable {
    fn(r ? Status() : Status(fail(r.error())));
  });
}

}  // namespace sockit::event
