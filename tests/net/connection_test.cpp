// Connection over every backend: framing, backpressure, half-close, closes.
#include "sockit/net/connection.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "sockit/sockit.hpp"
#include "support/bytes.hpp"
#include "support/loop_helpers.hpp"

namespace sockit::net {
namespace {

using namespace std::chrono_literals;
using test::bytes_of;
using test::string_of;

class ConnectionOn : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto loop = event::EventLoop::create({.backend = GetParam()});
    if (!loop && GetParam() == "io_uring") GTEST_SKIP() << "io_uring unavailable: " << loop.error().message();
    ASSERT_TRUE(loop) << loop.error().message();
    loop_ = std::move(*loop);
    auto pair = stream_socket_pair();
    ASSERT_TRUE(pair);
    peer_ = std::move(pair->second);
    local_ = pair->first.release();
  }

  std::shared_ptr<Connection> make(ConnectionOptions options = {}) {
    auto c = Connection::create(*loop_, std::move(local_), options);
    EXPECT_TRUE(c) << c.error().message();
    return c ? *c : nullptr;
  }

  // Turns the loop until `done` or the limit.
  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds limit = 5s) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      if (std::chrono::steady_clock::now() > until) return false;
      if (!loop_->run_once(10ms)) return false;
    }
    return true;
  }

  std::unique_ptr<event::EventLoop> loop_;
  StreamSocket peer_;
  Fd local_;
};

TEST_P(ConnectionOn, LengthPrefixedMessagesArriveOneByOneEvenWhenSplitOnTheWire) {
  auto c = make({.framing = Framing::length_prefix()});
  std::vector<std::string> got;
  c->on_message([&](Connection&, std::span<const std::byte> m) { got.push_back(string_of(m)); });
  c->start();
  Buffer wire;
  for (const char* m : {"alpha", "", "gamma"}) ASSERT_TRUE(encode(Framing::length_prefix(), bytes_of(m), wire));
  // Byte by byte: the framing must reassemble across reads.
  for (std::byte b : wire.readable()) {
    ASSERT_TRUE(peer_.send_all(std::span(&b, 1), 1s));
    loop_->run_once(1ms);
  }
  ASSERT_TRUE(run_until([&] { return got.size() == 3; }));
  EXPECT_EQ(got, (std::vector<std::string>{"alpha", "", "gamma"}));
  EXPECT_EQ(c->stats().messages_in, 3u);
}

TEST_P(ConnectionOn, AnOversizedFrameClosesThatConnectionWithAProtocolError) {
  auto c = make({.framing = Framing::length_prefix(1024)});
  std::error_code reason;
  bool closed = false;
  c->on_close([&](Connection&, std::error_code ec) { closed = true; reason = ec; });
  c->start();
  const std::array<std::byte, 4> header{std::byte{0}, std::byte{0}, std::byte{0x10}, std::byte{0}};  // 4096
  ASSERT_TRUE(peer_.send_all(header, 1s));
  ASSERT_TRUE(run_until([&] { return closed; }));
  EXPECT_EQ(reason, errc::frame_too_large);
  std::array<std::byte, 1> b{};
  auto eof = peer_.recv_some(b, 2s);
  EXPECT_TRUE(!eof || *eof == 0) << "the peer sees the connection go away";
}

TEST_P(ConnectionOn, LineFramingEchoesLines) {
  auto c = make({.framing = Framing::line()});
  c->on_message([](Connection& self, std::span<const std::byte> line) { (void)self.send(line); });
  c->start();
  ASSERT_TRUE(peer_.send_all("one\ntwo\n", 1s));
  std::string echoed;
  ASSERT_TRUE(run_until([&] {
    std::array<std::byte, 64> b{};
    auto n = peer_.recv_some(b, 1ms);
    if (n) echoed += string_of(std::span(b).first(*n));
    return echoed.size() >= 8;
  }));
  EXPECT_EQ(echoed, "one\ntwo\n");
}

TEST_P(ConnectionOn, APeerThatDoesNotReadTriggersBackpressureAndPausesReading) {
  auto c = make({.framing = Framing::raw(), .high_water_mark = 256 * 1024, .low_water_mark = 64 * 1024});
  std::vector<bool> signals;
  c->on_backpressure([&](Connection&, bool above) { signals.push_back(above); });
  c->start();
  const auto chunk = test::random_bytes(64 * 1024, 5);
  // The peer never reads: the kernel buffers fill, then our queue grows past the mark.
  for (int i = 0; i < 64 && signals.empty(); ++i) {
    ASSERT_TRUE(c->send(chunk));
    loop_->run_once(1ms);
  }
  ASSERT_EQ(signals, std::vector<bool>{true});
  EXPECT_GT(c->queued_output(), 256u * 1024);
  // Now the peer reads everything; the queue drains and the signal clears.
  std::size_t drained = 0;
  ASSERT_TRUE(run_until([&] {
    std::array<std::byte, 65536> b{};
    auto n = peer_.recv_some(b, 1ms);
    if (n) drained += *n;
    return signals.size() == 2 && c->queued_output() == 0;
  }, 10s));
  EXPECT_EQ(signals, (std::vector<bool>{true, false}));
}

TEST_P(ConnectionOn, SendRefusesToQueueBeyondTheOutputLimit) {
  auto c = make({.framing = Framing::raw(), .max_output_bytes = 1 << 20});
  c->start();
  const auto chunk = test::random_bytes(256 * 1024, 6);
  Status r;
  for (int i = 0; i < 64 && r; ++i) r = c->send(chunk);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::limit_reached);
  EXPECT_LE(c->queued_output(), 1u << 20);
}

TEST_P(ConnectionOn, GracefulCloseFlushesEverythingThenSendsFin) {
  auto c = make();
  bool closed = false;
  c->on_close([&](Connection&, std::error_code) { closed = true; });
  c->start();
  const auto data = test::random_bytes(2 << 20, 7);
  ASSERT_TRUE(c->send(data));
  c->close();
  std::vector<std::byte> got;
  ASSERT_TRUE(run_until([&] {
    std::array<std::byte, 65536> b{};
    auto n = peer_.recv_some(b, 1ms);
    if (n && *n == 0) {
      peer_.close();  // answer the FIN so the connection need not linger
      return true;
    }
    if (n) got.insert(got.end(), b.begin(), b.begin() + static_cast<long>(*n));
    return false;
  }, 10s));
  EXPECT_EQ(test::checksum(got), test::checksum(data));
  ASSERT_TRUE(run_until([&] { return closed; }));
}

TEST_P(ConnectionOn, APeerHalfCloseStillGetsTheReplyByDefault) {
  auto c = make({.framing = Framing::line()});
  bool closed = false;
  c->on_message([](Connection& self, std::span<const std::byte> line) { (void)self.send(line); });
  c->on_close([&](Connection&, std::error_code ec) { closed = !ec; });
  c->start();
  ASSERT_TRUE(peer_.send_all("last words\n", 1s));
  ASSERT_TRUE(peer_.shutdown(ShutdownHow::write));
  std::string reply;
  ASSERT_TRUE(run_until([&] {
    std::array<std::byte, 64> b{};
    auto n = peer_.recv_some(b, 1ms);
    if (n && *n == 0) return true;
    if (n) reply += string_of(std::span(b).first(*n));
    return false;
  }));
  EXPECT_EQ(reply, "last words\n");
  ASSERT_TRUE(run_until([&] { return closed; }));
}

TEST_P(ConnectionOn, AbortResetsTheConnection) {
  auto c = make();
  c->start();
  ASSERT_TRUE(peer_.send_all("unread", 1s));
  ASSERT_TRUE(run_until([&] { return c->stats().bytes_in == 6; }));
  c->abort();
  EXPECT_FALSE(c->is_open());
  std::array<std::byte, 1> b{};
  auto r = peer_.recv_some(b, 2s);
  // Unix stream sockets have no RST: the peer sees end of stream instead.
  EXPECT_TRUE(!r || *r == 0);
}

TEST_P(ConnectionOn, DroppingTheLastReferenceInsideACallbackIsSafe) {
  auto c = make({.framing = Framing::line()});
  std::shared_ptr<Connection> holder = c;
  int messages = 0;
  c->on_message([&](Connection& self, std::span<const std::byte>) {
    ++messages;
    self.close();
    holder.reset();
  });
  c->start();
  c.reset();
  ASSERT_TRUE(peer_.send_all("a\nb\nc\n", 1s));
  ASSERT_TRUE(run_until([&] { return messages > 0; }));
  for (int i = 0; i < 5; ++i) loop_->run_once(1ms);
  EXPECT_EQ(messages, 1) << "close() stops delivery of the remaining frames";
}

INSTANTIATE_TEST_SUITE_P(Backends, ConnectionOn, ::testing::ValuesIn(test::backends_under_test()),
                         test::backend_param_name);

}  // namespace
}  // namespace sockit::net
