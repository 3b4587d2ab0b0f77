#include "sockit/event/io_handle.hpp"

#include "event/loop_core.hpp"

namespace sockit::event {

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

void IoHandle::accept(AcceptFn fn) { core_->start_accept({slot_, generation_}, std::move(fn)); }
void IoHandle::receive(ReceiveFn fn) { core_->start_receive({slot_, generation_}, std::move(fn)); }
void IoHandle::pause_receive() { core_->set_receive_paused({slot_, generation_}, true); }
void IoHandle::resume_receive() { core_->set_receive_paused({slot_, generation_}, false); }
void IoHandle::send(std::span<const std::span<const std::byte>> buffers, SendFn fn) {
  core_->start_send({slot_, generation_}, buffers, std::move(fn));
}
void IoHandle::connect(const Endpoint& endpoint, ConnectFn fn) {
  core_->start_connect({slot_, generation_}, endpoint, std::move(fn));
}

}  // namespace sockit::event
