// Registers a GoogleTest listener in every test binary: the number of entries in
// /proc/self/fd must be the same after each test as before it. A leak fails the
// test that caused it, by name.
#include <gtest/gtest.h>

#include "support/fd_count.hpp"

namespace sockit::test {
namespace {

class FdLeakCheck : public ::testing::EmptyTestEventListener {
 public:
  void OnTestStart(const ::testing::TestInfo&) override { before_ = open_fd_count(); }
  void OnTestEnd(const ::testing::TestInfo& info) override {
    if (info.result()->Skipped()) return;
    const int after = open_fd_count();
    if (after != before_) {
      ADD_FAILURE() << "descriptor leak: " << before_ << " open before the test, " << after
                    << " after\n" << describe_open_fds();
    }
  }

 private:
  int before_ = 0;
};

const bool kRegistered = [] {
  ::testing::UnitTest::GetInstance()->listeners().Append(new FdLeakCheck);  // gtest owns it
  return true;
}();

}  // namespace
}  // namespace sockit::test
