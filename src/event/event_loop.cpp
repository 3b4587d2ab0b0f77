#include "sockit/event/event_loop.hpp"

#include "event/loop_core.hpp"
#include "sockit/event/io_handle.hpp"

namespace sockit::event {

Result<std::unique_ptr<EventLoop>> EventLoop::create(const LoopOptions& options) {
  auto core = LoopCore::create(options);
  if (!core) return fail(core.error());
  return std::unique_ptr<EventLoop>(new EventLoop(std::move(*core)));
}

EventLoop::EventLoop(std::unique_ptr<LoopCore> core) : core_(std::move(core)) {}
EventLoop::~EventLoop() = default;

std::vector<std::string> EventLoop::available_backends() {
  std::vector<std::string> names;
  std::string reason;
  if (uring_available(&reason)) names.emplace_back("io_uring");
  for (const char* name : {"epoll", "epoll-et", "poll", "select"}) names.emplace_back(name);
  return names;
}

const BackendInfo& EventLoop::backend() const { return core_->backend(); }
LoopStats& LoopStats::operator+=(const LoopStats& o) {
  for (LoopStatsField field : kLoopStatsFields) this->*field += o.*field;
  return *this;
}

LoopStats EventLoop::stats() const { return core_->stats(); }

void EventLoop::run() {
  // run() from a thread other than the creator hands the loop to that thread.
  if (!core_->in_loop_thread()) core_->adopt_current_thread();
  core_->run();
}

Status EventLoop::run_once(std::chrono::milliseconds max_wait) { return core_->run_once(max_wait); }
void EventLoop::stop() { core_->stop(); }
void EventLoop::post(Task task) { core_->post(std::move(task)); }
void EventLoop::defer(Task task) { core_->defer(std::move(task)); }
bool EventLoop::in_loop_thread() const { return core_->in_loop_thread(); }

TimerHandle EventLoop::run_after(std::chrono::nanoseconds delay, Task task) {
  return TimerHandle(core_.get(), core_->add_timer(delay, std::chrono::nanoseconds::zero(), std::move(task)));
}

TimerHandle EventLoop::run_every(std::chrono::nanoseconds period, std::move_only_function<void()> task) {
  if (period <= std::chrono::nanoseconds::zero()) period = std::chrono::nanoseconds(1);
  return TimerHandle(core_.get(), core_->add_timer(period, period, std::move(task)));
}

Result<SignalHandle> EventLoop::on_signal(int signo, std::move_only_function<void(int)> handler) {
  auto s = core_->add_signal(signo, std::move(handler));
  if (!s) return fail(s.error());
  return SignalHandle(core_.get(), signo);
}

Result<IoHandle> EventLoop::watch(int fd) { return core_->watch(fd); }

// --- handles ---------------------------------------------------------------------------

TimerHandle::TimerHandle(TimerHandle&& other) noexcept
    : core_(std::exchange(other.core_, nullptr)), id_(std::exchange(other.id_, 0)) {}
TimerHandle& TimerHandle::operator=(TimerHandle&& other) noexcept {
  if (this != &other) {
    cancel();
    core_ = std::exchange(other.core_, nullptr);
    id_ = std::exchange(other.id_, 0);
  }
  return *this;
}
TimerHandle::~TimerHandle() { cancel(); }
void TimerHandle::cancel() {
  if (core_ != nullptr) core_->cancel_timer(id_);
  core_ = nullptr;
}
bool TimerHandle::active() const { return core_ != nullptr && core_->timer_active(id_); }

SignalHandle::SignalHandle(SignalHandle&& other) noexcept
    : core_(std::exchange(other.core_, nullptr)), signo_(other.signo_) {}
SignalHandle& SignalHandle::operator=(SignalHandle&& other) noexcept {
  if (this != &other) {
    if (core_ != nullptr) core_->remove_signal(signo_);
    core_ = std::exchange(other.core_, nullptr);
    signo_ = other.signo_;
  }
  return *this;
}
SignalHandle::~SignalHandle() {
  if (core_ != nullptr) core_->remove_signal(signo_);
}

}  // namespace sockit::event
