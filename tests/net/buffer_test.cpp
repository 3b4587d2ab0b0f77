#include "sockit/net/buffer.hpp"

#include <gtest/gtest.h>

#include "support/bytes.hpp"

namespace sockit::net {
namespace {

using test::bytes_of;
using test::string_of;

TEST(Buffer, AnEmptyBufferOwnsNoMemory) {
  Buffer b;
  EXPECT_EQ(b.capacity(), 0u);
  b.append("hello");
  EXPECT_GT(b.capacity(), 0u);
  b.consume(5);
  b.shrink_to_fit();
  EXPECT_EQ(b.capacity(), 0u);
}

TEST(Buffer, AppendThenConsumeKeepsOrder) {
  Buffer b;
  b.append("hello ");
  b.append("world");
  EXPECT_EQ(string_of(b.readable()), "hello world");
  b.consume(6);
  EXPECT_EQ(string_of(b.readable()), "world");
  b.consume(100);  // more than there is: just empties it
  EXPECT_TRUE(b.empty());
}

TEST(Buffer, SlidesLiveBytesInsteadOfGrowingWhenTheFrontIsFree) {
  Buffer b;
  b.append(std::string(1000, 'a'));
  const auto cap = b.capacity();
  b.consume(900);
  b.append(std::string(cap - 200, 'b'));  // fits only if the 900 dead bytes are reused
  EXPECT_EQ(b.capacity(), cap);
  EXPECT_EQ(b.size(), 100 + cap - 200);
  EXPECT_EQ(string_of(b.readable().first(100)), std::string(100, 'a'));
}

TEST(Buffer, PrepareAndCommitWriteInPlace) {
  Buffer b;
  auto room = b.prepare(3);
  ASSERT_GE(room.size(), 3u);
  room[0] = std::byte{'x'};
  room[1] = std::byte{'y'};
  b.commit(2);
  EXPECT_EQ(string_of(b.readable()), "xy");
}

TEST(Buffer, LargeRandomTrafficRoundTrips) {
  Buffer b;
  const auto data = test::random_bytes(1 << 20, 9);
  std::vector<std::byte> out;
  std::size_t in = 0;
  while (in < data.size() || !b.empty()) {
    const std::size_t n = std::min<std::size_t>(7919, data.size() - in);
    b.append(std::span(data).subspan(in, n));
    in += n;
    const std::size_t take = std::min<std::size_t>(b.size(), 6007);
    out.insert(out.end(), b.readable().begin(), b.readable().begin() + static_cast<long>(take));
    b.consume(take);
  }
  EXPECT_EQ(test::checksum(out), test::checksum(data));
}

TEST(Buffer, AMovedFromBufferIsEmptyAndOwnsNothing) {
  Buffer from;
  from.append(std::string_view("queued bytes"));
  Buffer to(std::move(from));
  EXPECT_EQ(test::string_of(to.readable()), "queued bytes");
  EXPECT_TRUE(from.empty());  // NOLINT(bugprone-use-after-move): the moved-from state is the point
  EXPECT_EQ(from.size(), 0u);
  EXPECT_EQ(from.capacity(), 0u);
  Buffer assigned;
  assigned = std::move(to);
  EXPECT_EQ(test::string_of(assigned.readable()), "queued bytes");
  EXPECT_TRUE(to.empty());  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(to.capacity(), 0u);
  to.append(std::string_view("usable again"));  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(test::string_of(to.readable()), "usable again");
}

}  // namespace
}  // namespace sockit::net
