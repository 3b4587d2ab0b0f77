// The readiness pollers under the readiness engine (select, poll, epoll,
// epoll-et), driven directly: what each reports for a socket pair, that removal
// and "no interest" silence a descriptor, timeouts (rounded up, never down), the
// one EINTR rule (an interrupted wait waits out its time), and select's
// FD_SETSIZE limit.
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "event/poller.hpp"
#include "sockit/fd.hpp"
#include "sockit/result.hpp"
#include "support/interrupt_storm.hpp"
#include "support/loop_helpers.hpp"

namespace sockit {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using event::kError;
using event::kReadable;
using event::kWritable;

constexpr std::uint64_t kToken = 0x1234'5678'9abc'def0;

class Poller : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    const std::string& name = GetParam();
    auto p = name == "select" ? event::make_select_poller()
             : name == "poll" ? event::make_poll_poller()
                              : event::make_epoll_poller(name == "epoll-et");
    ASSERT_TRUE(p) << p.error().message();
    poller_ = std::move(*p);
    EXPECT_STREQ(poller_->name(), name.c_str());
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
    a_ = Fd(fds[0]);
    b_ = Fd(fds[1]);
  }

  // One wait; the events it reported.
  std::vector<event::ReadyEvent> wait(std::chrono::nanoseconds timeout = 0ns) {
    std::array<event::ReadyEvent, 16> out{};
    auto n = poller_->wait(timeout, out);
    EXPECT_TRUE(n) << n.error().message();
    return {out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n ? *n : 0)};
  }

  static void write_byte(const Fd& fd) { ASSERT_EQ(::write(fd.get(), "x", 1), 1); }

  std::unique_ptr<event::Poller> poller_;
  Fd a_;
  Fd b_;
};

TEST_P(Poller, ReportsAReadableDescriptorWithItsToken) {
  ASSERT_TRUE(poller_->add(a_.get(), kReadable, kToken));
  EXPECT_TRUE(wait().empty()) << "nothing was written yet";
  write_byte(b_);
  const auto events = wait(1s);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].token, kToken);
  EXPECT_TRUE(events[0].events & kReadable);
  EXPECT_FALSE(events[0].events & kWritable) << "writability was not asked for";
  poller_->remove(a_.get());
}

TEST_P(Poller, ReportsAWritableDescriptor) {
  ASSERT_TRUE(poller_->add(a_.get(), kWritable, kToken));
  const auto events = wait(1s);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].token, kToken);
  EXPECT_EQ(events[0].events & (kReadable | kWritable), kWritable);
  poller_->remove(a_.get());
}

TEST_P(Poller, ReportsEndOfStreamAsReadable) {
  ASSERT_TRUE(poller_->add(a_.get(), kReadable, kToken));
  b_.reset();  // the peer closes: a read now returns 0
  const auto events = wait(1s);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_TRUE(events[0].events & kReadable);
  poller_->remove(a_.get());
}

TEST_P(Poller, ModifyChangesInterestAndToken) {
  ASSERT_TRUE(poller_->add(a_.get(), kReadable, 1));
  EXPECT_TRUE(wait().empty());
  ASSERT_TRUE(poller_->modify(a_.get(), kReadable | kWritable, 2));
  const auto events = wait(1s);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].token, 2u);
  EXPECT_TRUE(events[0].events & kWritable);
  poller_->remove(a_.get());
}

TEST_P(Poller, StopsReportingADescriptorOnceRemoved) {
  ASSERT_TRUE(poller_->add(a_.get(), kReadable | kWritable, kToken));
  write_byte(b_);
  EXPECT_EQ(wait(1s).size(), 1u);
  poller_->remove(a_.get());
  EXPECT_TRUE(wait(10ms).empty());
  // The descriptor can be registered again afterwards.
  ASSERT_TRUE(poller_->add(a_.get(), kReadable, kToken + 1));
  const auto events = wait(1s);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].token, kToken + 1);
  poller_->remove(a_.get());
}

TEST_P(Poller, DoesNotKeepReportingAHungUpDescriptorWithNoInterest) {
  // A registration without interest (a paused receive) must not wake every wait
  // because the peer is gone: the kernel reports HUP even for events = 0, which
  // level-triggered would turn the loop into a spin.
  ASSERT_TRUE(poller_->add(a_.get(), 0, kToken));
  write_byte(b_);
  b_.reset();
  (void)wait();  // epoll may report the hang-up once
  EXPECT_TRUE(wait(10ms).empty());
  EXPECT_TRUE(wait(10ms).empty());
  // Asking again finds the pending data and the end of stream.
  ASSERT_TRUE(poller_->modify(a_.get(), kReadable, kToken));
  const auto events = wait(1s);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_TRUE(events[0].events & kReadable);
  poller_->remove(a_.get());
}

TEST_P(Poller, HangUpIsReadableAndWritableSoTheNextSyscallSurfacesIt) {
  ASSERT_TRUE(poller_->add(a_.get(), kReadable | kWritable, kToken));
  b_.reset();
  const auto events = wait(1s);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_TRUE(events[0].events & kReadable);
  EXPECT_TRUE(events[0].events & kWritable);
  if (GetParam() != "select") {  // select has no error set
    EXPECT_TRUE(events[0].events & kError);
  }
  poller_->remove(a_.get());
}

TEST_P(Poller, WaitsForTheWholeTimeoutWhenNothingIsReady) {
  ASSERT_TRUE(poller_->add(a_.get(), kReadable, kToken));
  const auto start = Clock::now();
  EXPECT_TRUE(wait(30ms).empty());
  EXPECT_GE(Clock::now() - start, 30ms);
  poller_->remove(a_.get());
}

TEST_P(Poller, RoundsASubMillisecondTimeoutUpNotDownToZero) {
  // A timer due in 300 µs must not turn into a zero-timeout wait (a busy loop
  // until it is due): millisecond pollers wait 1 ms, select 300 µs.
  ASSERT_TRUE(poller_->add(a_.get(), kReadable, kToken));
  const auto start = Clock::now();
  EXPECT_TRUE(wait(300us).empty());
  EXPECT_GE(Clock::now() - start, 300us);
  poller_->remove(a_.get());
}

TEST_P(Poller, SignalsDuringAWaitDoNotEndItBeforeItsTimeout) {
  ASSERT_TRUE(poller_->add(a_.get(), kReadable, kToken));
  int landed = 0;  // interrupts counted while the wait ran
  {
    test::InterruptStorm storm;
    // The storm starts before the first wait; a thread starved for the whole wait
    // proves nothing, so wait again until signals did arrive during one.
    for (int attempt = 0; attempt < 20 && landed == 0; ++attempt) {
      const int before = test::InterruptStorm::delivered();
      const auto start = Clock::now();
      EXPECT_TRUE(wait(100ms).empty()) << "nothing was written";
      const auto took = Clock::now() - start;
      landed = test::InterruptStorm::delivered() - before;
      EXPECT_GE(took, 100ms) << landed << " signals ended the wait early";
    }
  }
  EXPECT_GT(landed, 0) << "no signal arrived during a wait: the test proved nothing";
  // Interrupted or not, a ready descriptor still ends the wait at once.
  write_byte(b_);
  EXPECT_EQ(wait(1s).size(), 1u);
  poller_->remove(a_.get());
}

TEST_P(Poller, ClosingAnIoUringDoesNotEndTheNextWaitEarly) {
  // Closing an io_uring leaves task work that interrupts the thread's next
  // epoll_wait with EINTR, no signal involved; poll and select the kernel restarts.
  {
    auto ring = test::make_loop_or_skip({.backend = "io_uring"});
    if (!ring) return;
  }
  ASSERT_TRUE(poller_->add(a_.get(), kReadable, kToken));
  const auto start = Clock::now();
  EXPECT_TRUE(wait(50ms).empty());
  EXPECT_GE(Clock::now() - start, 50ms);
  poller_->remove(a_.get());
}

TEST_P(Poller, ReturnsAtOnceWhenDataArrivesBeforeAnUnlimitedWait) {
  ASSERT_TRUE(poller_->add(a_.get(), kReadable, kToken));
  write_byte(b_);
  std::array<event::ReadyEvent, 4> out{};
  auto n = poller_->wait(std::nullopt, out);
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(*n, 1u);
  poller_->remove(a_.get());
}

TEST_P(Poller, OnlySelectRefusesADescriptorAtOrAboveFdSetsize) {
  constexpr int kHighFd = 1100;
  rlimit limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &limit), 0);
  if (limit.rlim_max <= kHighFd) {
    GTEST_SKIP() << "RLIMIT_NOFILE hard limit " << limit.rlim_max << " <= " << kHighFd;
  }
  const rlimit saved = limit;
  if (limit.rlim_cur <= kHighFd) {
    limit.rlim_cur = kHighFd + 1;
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &limit), 0);
  }
  Fd high(::fcntl(a_.get(), F_DUPFD_CLOEXEC, kHighFd));
  ASSERT_TRUE(high.valid());
  ASSERT_GE(high.get(), FD_SETSIZE);

  const Status added = poller_->add(high.get(), kReadable, kToken);
  if (GetParam() == "select") {
    ASSERT_FALSE(added);
    EXPECT_EQ(added.error(), errc::select_fd_limit);
    EXPECT_NE(added.error().message().find("too many descriptors for select"), std::string::npos)
        << added.error().message();
    EXPECT_FALSE(poller_->modify(high.get(), kReadable, kToken));
  } else {
    ASSERT_TRUE(added) << added.error().message();
    write_byte(b_);
    const auto events = wait(1s);
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].token, kToken);
  }
  poller_->remove(high.get());  // harmless for select, which never took it
  high.reset();
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);
}

INSTANTIATE_TEST_SUITE_P(Pollers, Poller, ::testing::Values("select", "poll", "epoll", "epoll-et"),
                         test::backend_param_name);

}  // namespace
}  // namespace sockit
