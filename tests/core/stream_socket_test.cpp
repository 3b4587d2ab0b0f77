// StreamSocket: blocking I/O that cannot be misused, over every stream transport.
#include "sockit/stream_socket.hpp"

#include <gtest/gtest.h>
#include <fcntl.h>

#include <array>
#include <chrono>
#include <thread>

#include "sockit/sockit.hpp"
#include "support/bytes.hpp"
#include "support/connected.hpp"
#include "support/temp_dir.hpp"

namespace sockit {
namespace {

using namespace std::chrono_literals;
using test::bytes_of;
using test::string_of;

class StreamSocketOver : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { pair_ = test::connected_pair(test::listen_address_for(GetParam(), dir_.file("s.sock"))); }
  test::TempDir dir_;
  test::ConnectedPair pair_;
};

TEST_P(StreamSocketOver, SendAllArrivesWholeThroughRecvExact) {
  ASSERT_TRUE(pair_.client.send_all("hello, stream", 5s));
  std::array<std::byte, 13> got{};
  ASSERT_TRUE(pair_.server.recv_exact(got, 5s));
  EXPECT_EQ(string_of(got), "hello, stream");
}

TEST_P(StreamSocketOver, RecvSomeReturnsZeroWhenThePeerCloses) {
  pair_.client.close();
  std::array<std::byte, 16> buf{};
  auto n = pair_.server.recv_some(buf, 5s);
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(*n, 0u);
}

TEST_P(StreamSocketOver, RecvExactTellsACleanCloseFromACutMessage) {
  std::array<std::byte, 8> buf{};
  {
    auto [client, server] = test::connected_pair(test::listen_address_for(GetParam(), dir_.file("a.sock")));
    client.close();
    auto r = server.recv_exact(buf, 5s);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), errc::end_of_stream);
  }
  ASSERT_TRUE(pair_.client.send_all("abc", 5s));
  pair_.client.close();
  auto r = pair_.server.recv_exact(buf, 5s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::unexpected_end_of_stream);
}

TEST_P(StreamSocketOver, RecvExactTimesOutByTheDeadline) {
  std::array<std::byte, 4> buf{};
  const auto start = std::chrono::steady_clock::now();
  auto r = pair_.server.recv_exact(buf, 100ms);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::timed_out);
  EXPECT_TRUE(r.error() == std::errc::timed_out) << "sockit's timeout also compares equal to std::errc::timed_out";
  EXPECT_GE(took, 95ms);
  EXPECT_LT(took, 2s);
}

TEST_P(StreamSocketOver, PeekLeavesTheBytesQueued) {
  ASSERT_TRUE(pair_.client.send_all("peekaboo", 5s));
  std::array<std::byte, 4> head{};
  // A stream may deliver fewer bytes than sent; wait until all 4 are visible.
  for (int i = 0; i < 100; ++i) {
    auto n = pair_.server.peek(head, 5s);
    ASSERT_TRUE(n);
    if (*n == head.size()) break;
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(string_of(head), "peek");
  std::array<std::byte, 8> all{};
  ASSERT_TRUE(pair_.server.recv_exact(all, 5s));
  EXPECT_EQ(string_of(all), "peekaboo");
}

TEST_P(StreamSocketOver, ShutdownWriteIsAHalfCloseThePeerCanStillAnswer) {
  ASSERT_TRUE(pair_.client.send_all("question", 5s));
  ASSERT_TRUE(pair_.client.shutdown(ShutdownHow::write));
  std::array<std::byte, 8> q{};
  ASSERT_TRUE(pair_.server.recv_exact(q, 5s));
  std::array<std::byte, 1> more{};
  auto eof = pair_.server.recv_some(more, 5s);
  ASSERT_TRUE(eof);
  EXPECT_EQ(*eof, 0u) << "the client's FIN reads as end of stream";
  ASSERT_TRUE(pair_.server.send_all("answer", 5s));
  std::array<std::byte, 6> a{};
  ASSERT_TRUE(pair_.client.recv_exact(a, 5s));
  EXPECT_EQ(string_of(a), "answer");
}

TEST_P(StreamSocketOver, RecvSomeOnANonBlockingSocketReportsWouldBlockWithoutADeadline) {
  ASSERT_TRUE(pair_.server.set_non_blocking(true));
  std::array<std::byte, 4> buf{};
  auto r = pair_.server.recv_some(buf);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), std::errc::resource_unavailable_try_again);
}

TEST_P(StreamSocketOver, SendAllOnANonBlockingSocketStillSendsEverything) {
  ASSERT_TRUE(pair_.client.set_non_blocking(true));
  const auto data = test::random_bytes(4 << 20, 7);
  std::thread reader([&] {
    std::vector<std::byte> got(data.size());
    ASSERT_TRUE(pair_.server.recv_exact(got, 20s));
    EXPECT_EQ(test::checksum(got), test::checksum(data));
  });
  EXPECT_TRUE(pair_.client.send_all(data, 20s));
  reader.join();
}

TEST_P(StreamSocketOver, ReceiveTimeoutOptionEndsABlockingRecvAsTimedOut) {
  ASSERT_TRUE(pair_.server.set_receive_timeout(50ms));
  std::array<std::byte, 4> buf{};
  auto r = pair_.server.recv_some(buf);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::timed_out);
}

TEST_P(StreamSocketOver, WritingToAClosedPeerIsAnErrorNotASignal) {
  // SIGPIPE's default action would kill this test binary: surviving is the assertion,
  // and the error must say what happened.
  pair_.server.close();
  const auto chunk = test::random_bytes(64 * 1024, 1);
  Status r;
  for (int i = 0; i < 1000 && r; ++i) r = pair_.client.send_all(chunk, 5s);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error() == std::errc::broken_pipe || r.error() == std::errc::connection_reset)
      << r.error().message();
}

TEST_P(StreamSocketOver, AddressesReportTheTransport) {
  auto local = pair_.server.local_address();
  ASSERT_TRUE(local);
  EXPECT_EQ(local->transport(), GetParam().starts_with("tcp") ? Transport::tcp : Transport::unix_stream);
  auto peer = pair_.client.peer_address();
  ASSERT_TRUE(peer);
  EXPECT_EQ(*peer, *local);
}

INSTANTIATE_TEST_SUITE_P(Transports, StreamSocketOver, ::testing::Values("unix", "abstract", "tcp4", "tcp6"),
                         [](const auto& param_info) { return param_info.param; });

TEST(StreamSocket, RecvSomeRefusesAnEmptyBuffer) {
  auto pair = stream_socket_pair();
  ASSERT_TRUE(pair);
  auto r = pair->first.recv_some({});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::invalid_argument);
}

TEST(StreamSocket, SocketPairIsBidirectional) {
  auto pair = stream_socket_pair();
  ASSERT_TRUE(pair);
  ASSERT_TRUE(pair->first.send_all("ping", 5s));
  ASSERT_TRUE(pair->second.send_all("pong", 5s));
  std::array<std::byte, 4> a{}, b{};
  ASSERT_TRUE(pair->second.recv_exact(a, 5s));
  ASSERT_TRUE(pair->first.recv_exact(b, 5s));
  EXPECT_EQ(string_of(a), "ping");
  EXPECT_EQ(string_of(b), "pong");
  auto local = pair->first.local_address();
  ASSERT_TRUE(local);
  EXPECT_TRUE(local->is_unnamed());
}

TEST(StreamSocket, EverySocketIsCloseOnExec) {
  auto pair = stream_socket_pair();
  ASSERT_TRUE(pair);
  EXPECT_NE(::fcntl(pair->first.native_handle(), F_GETFD) & FD_CLOEXEC, 0);
  auto [client, server] = test::connected_pair("tcp://127.0.0.1:0");
  EXPECT_NE(::fcntl(client.native_handle(), F_GETFD) & FD_CLOEXEC, 0);
  EXPECT_NE(::fcntl(server.native_handle(), F_GETFD) & FD_CLOEXEC, 0);
}

}  // namespace
}  // namespace sockit
