// SeqPacketSocket: records keep their boundaries and are never silently cut.
#include "sockit/seqpacket_socket.hpp"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <vector>

#include "sockit/socket_pair.hpp"
#include "support/bytes.hpp"

namespace sockit {
namespace {

using namespace std::chrono_literals;
using test::bytes_of;
using test::string_of;

class SeqPacketSocketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pair = seqpacket_socket_pair();
    ASSERT_TRUE(pair) << pair.error().message();
    a_ = std::move(pair->first);
    b_ = std::move(pair->second);
  }
  SeqPacketSocket a_;
  SeqPacketSocket b_;
};

TEST_F(SeqPacketSocketTest, EachRecvReturnsExactlyOneRecord) {
  ASSERT_TRUE(a_.send(bytes_of("one"), 5s));
  ASSERT_TRUE(a_.send(bytes_of("two!"), 5s));
  ASSERT_TRUE(a_.send(bytes_of("three33"), 5s));
  std::array<std::byte, 64> buf{};
  for (std::string_view want : {"one", "two!", "three33"}) {
    auto n = b_.recv(buf, 5s);
    ASSERT_TRUE(n) << n.error().message();
    EXPECT_EQ(string_of(std::span(buf).first(*n)), want);
  }
}

TEST_F(SeqPacketSocketTest, ARecordLargerThanTheBufferIsTruncatedNotCut) {
  ASSERT_TRUE(a_.send(test::random_bytes(100, 7), 5s));
  ASSERT_TRUE(a_.send(bytes_of("next"), 5s));
  std::array<std::byte, 10> small{};
  auto r = b_.recv(small, 5s);
  ASSERT_FALSE(r) << "a 100-byte record came back as " << *r << " bytes";
  EXPECT_EQ(r.error(), errc::message_truncated);
  auto n = b_.recv(small, 5s);
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(string_of(std::span(small).first(*n)), "next");
}

TEST_F(SeqPacketSocketTest, NextMessageSizePeeksWithoutConsuming) {
  const auto record = test::random_bytes(777, 8);
  ASSERT_TRUE(a_.send(record, 5s));
  auto size = b_.next_message_size(5s);
  ASSERT_TRUE(size) << size.error().message();
  EXPECT_EQ(*size, 777u);
  std::vector<std::byte> buf(*size);
  auto n = b_.recv(buf, 5s);
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(*n, 777u);
  EXPECT_EQ(buf, record);
}

TEST_F(SeqPacketSocketTest, RecvReturnsZeroWhenThePeerCloses) {
  ASSERT_TRUE(a_.send(bytes_of("last"), 5s));
  a_.close();
  std::array<std::byte, 16> buf{};
  auto n = b_.recv(buf, 5s);
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(string_of(std::span(buf).first(*n)), "last");
  n = b_.recv(buf, 5s);
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(*n, 0u);
}

TEST_F(SeqPacketSocketTest, RecvTimesOutByTheDeadline) {
  std::array<std::byte, 8> buf{};
  const auto start = std::chrono::steady_clock::now();
  auto r = b_.recv(buf, 100ms);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::timed_out);
  EXPECT_GE(took, 95ms);
  EXPECT_LT(took, 2s);
}

}  // namespace
}  // namespace sockit
