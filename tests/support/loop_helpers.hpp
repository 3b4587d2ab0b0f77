// Driving an EventLoop from a test, always bounded in time, and the backend list
// the event-layer conformance suites are instantiated over.
//
// LoopTest is the fixture for a suite that runs once per backend: SetUp creates
// loop_ with the backend named by the test parameter and TearDown destroys it, so
// the loop's own descriptors are closed before the fd-leak check looks. io_uring is
// a skip (with the kernel's reason) when the machine refuses it; any other backend
// failing to start is a test failure.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sockit/event/event_loop.hpp"

namespace sockit::test {

// Runs loop turns (run_once of at most 10 ms) until `done()` holds or `limit`
// passes. Returns done(); a failing run_once is reported as a test failure.
bool run_until(event::EventLoop& loop, std::function<bool()> done,
               std::chrono::milliseconds limit = std::chrono::seconds(5));

// Runs loop turns for `duration` whatever happens (to check that nothing does).
void run_for(event::EventLoop& loop, std::chrono::milliseconds duration);

// EventLoop::available_backends() plus, always, select, poll, epoll, epoll-et and
// io_uring: a backend that vanished from the list still gets tested (and fails).
std::vector<std::string> backends_under_test();

// GoogleTest parameter names must be identifiers: "epoll-et" -> "epoll_et".
std::string backend_param_name(const ::testing::TestParamInfo<std::string>& info);

// True when SOCKIT_TEST_REQUIRE_BACKENDS=1 (CI sets it on kernels that offer
// io_uring): then a backend that cannot be created is a failure, never a skip, so a
// broken set-up cannot hide whole suites.
bool every_backend_required();

// Creates a loop for `options.backend`; returns nullptr after recording a skip
// (io_uring refused, unless every_backend_required()) or a failure (anything else). Call from the test body or
// SetUp and `if (!loop) return;` after it.
std::unique_ptr<event::EventLoop> make_loop_or_skip(const event::LoopOptions& options);

class LoopTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override;
  void TearDown() override;
  event::EventLoop& loop() { return *loop_; }

  std::unique_ptr<event::EventLoop> loop_;
};

}  // namespace sockit::test
