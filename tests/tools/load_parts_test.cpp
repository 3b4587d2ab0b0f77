// The pure piece of `sockit load`: the deterministic payload its verification
// relies on (compiled in from tools/sockit, see tests/CMakeLists.txt). Its latency
// histogram is bench's, tested in latency_histogram_test.cpp.
#include <gtest/gtest.h>

#include <vector>

#include "load_payload.hpp"

namespace sockit::cli {
namespace {

TEST(LoadPayload, IsAFunctionOfSeedConnectionMessageAndPosition) {
  const LoadPayload payload(7, {10, 1000}, false);
  std::vector<std::byte> one(payload.size_of(3, 17));
  std::vector<std::byte> again(payload.size_of(3, 17));
  payload.fill(3, 17, one);
  payload.fill(3, 17, again);
  EXPECT_EQ(one, again);
  EXPECT_GE(one.size(), 10u);
  EXPECT_LE(one.size(), 1000u);
  for (std::size_t i = 0; i < one.size(); ++i) ASSERT_EQ(one[i], payload.byte_at(3, 17, i)) << i;
  EXPECT_EQ(payload.first_difference(3, 17, 0, one), one.size());
  // Another message or seed differs.
  std::vector<std::byte> other(one.size());
  payload.fill(3, 18, other);
  EXPECT_NE(one, other);
  const LoadPayload reseeded(8, {10, 1000}, false);
  reseeded.fill(3, 17, other);
  EXPECT_NE(one, other);
}

TEST(LoadPayload, FindsTheFirstDifferenceFromAnyOffset) {
  const LoadPayload payload(1, {64, 64}, false);
  std::vector<std::byte> bytes(64);
  payload.fill(0, 5, bytes);
  bytes[41] = ~bytes[41];
  EXPECT_EQ(payload.first_difference(0, 5, 0, bytes), 41u);
  // A chunk that starts mid-message (raw framing): offsets 37.. of the message.
  EXPECT_EQ(payload.first_difference(0, 5, 37, std::span(bytes).subspan(37)), 4u);
  EXPECT_EQ(payload.first_difference(0, 5, 42, std::span(bytes).subspan(42)), 22u);
}

TEST(LoadPayload, LineFramingBytesArePrintableAndNeverTheDelimiter) {
  const LoadPayload payload(1, {1, 4096}, true);
  for (std::uint64_t m = 0; m < 50; ++m) {
    std::vector<std::byte> bytes(payload.size_of(2, m));
    payload.fill(2, m, bytes);
    for (std::byte b : bytes) {
      ASSERT_GE(static_cast<int>(b), 0x20);
      ASSERT_LE(static_cast<int>(b), 0x7e);
    }
  }
}

TEST(LoadPayload, SizesCoverTheRange) {
  const LoadPayload payload(1, {1, 4}, false);
  std::vector<int> seen(5, 0);
  for (std::uint64_t m = 0; m < 400; ++m) ++seen[payload.size_of(0, m)];
  EXPECT_EQ(seen[0], 0);
  for (int size = 1; size <= 4; ++size) EXPECT_GT(seen[size], 40) << size;  // ~100 each
}

}  // namespace
}  // namespace sockit::cli
