#include "support/loop_helpers.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <string_view>

namespace sockit::test {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {
// GTEST_SKIP returns from the function it is in, which must return void; the
// skip is recorded for the running test either way.
void record_skip(const std::string& reason) { GTEST_SKIP() << reason; }
}  // namespace

bool run_until(event::EventLoop& loop, std::function<bool()> done, milliseconds limit) {
  const auto until = Clock::now() + limit;
  while (!done()) {
    const auto left = std::chrono::duration_cast<milliseconds>(until - Clock::now());
    if (left <= milliseconds::zero()) return done();
    if (auto s = loop.run_once(std::min(left, milliseconds(10))); !s) {
      ADD_FAILURE() << "run_once failed: " << s.error().message();
      return done();
    }
  }
  return true;
}

void run_for(event::EventLoop& loop, milliseconds duration) {
  const auto until = Clock::now() + duration;
  for (;;) {
    const auto left = std::chrono::duration_cast<milliseconds>(until - Clock::now());
    if (left <= milliseconds::zero()) return;
    if (auto s = loop.run_once(std::min(left, milliseconds(10))); !s) {
      ADD_FAILURE() << "run_once failed: " << s.error().message();
      return;
    }
  }
}

std::vector<std::string> backends_under_test() {
  std::vector<std::string> names = {"select", "poll", "epoll", "epoll-et", "io_uring"};
  for (const std::string& name : event::EventLoop::available_backends()) {
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  return names;
}

bool every_backend_required() {
  const char* value = std::getenv("SOCKIT_TEST_REQUIRE_BACKENDS");
  return value != nullptr && std::string_view(value) == "1";
}

std::string backend_param_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = info.param;
  std::replace_if(
      name.begin(), name.end(), [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); }, '_');
  return name;
}

std::unique_ptr<event::EventLoop> make_loop_or_skip(const event::LoopOptions& options) {
  auto loop = event::EventLoop::create(options);
  if (loop) return std::move(*loop);
  if (every_backend_required()) {
    ADD_FAILURE() << "SOCKIT_TEST_REQUIRE_BACKENDS is set and backend \"" << options.backend
                  << "\" could not be created: " << loop.error().message();
    return nullptr;
  }
  if (options.backend == "io_uring") {
    // The kernel may refuse io_uring (disabled by sysctl, seccomp, too old): a skip.
    // But if available_backends() promised it, failing to create it is a bug.
    const auto available = event::EventLoop::available_backends();
    if (std::find(available.begin(), available.end(), "io_uring") == available.end()) {
      record_skip("io_uring refused by this kernel: " + loop.error().message());
      return nullptr;
    }
    ADD_FAILURE() << "available_backends() lists io_uring but creating it failed: " << loop.error().message();
    return nullptr;
  }
  ADD_FAILURE() << "creating backend \"" << options.backend << "\" failed: " << loop.error().message();
  return nullptr;
}

void LoopTest::SetUp() {
  loop_ = make_loop_or_skip({.backend = GetParam()});
  if (!loop_ && !IsSkipped()) FAIL() << "no loop for backend " << GetParam();
}

void LoopTest::TearDown() { loop_.reset(); }

}  // namespace sockit::test
