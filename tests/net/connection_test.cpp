// Connection over every backend: framing, backpressure, half-close, closes.
#include "sockit/net/connection.hpp"

#include <gtest/gtest.h>
#include <netinet/tcp.h>

#include <chrono>
#include <optional>
#include <thread>

#include "sockit/sockit.hpp"
#include "support/bytes.hpp"
#include "support/connected.hpp"
#include "support/loop_helpers.hpp"
#include "support/peer_closed.hpp"

namespace sockit::net {
namespace {

using namespace std::chrono_literals;
using test::bytes_of;
using test::string_of;

class ConnectionOn : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    loop_ = test::make_loop_or_skip({.backend = GetParam()});
    if (!loop_) {
      if (!IsSkipped()) FAIL() << "no loop for " << GetParam();
      return;
    }
    auto pair = stream_socket_pair();
    ASSERT_TRUE(pair);
    peer_ = std::move(pair->second);
    local_ = pair->first.release();
  }

  // Replaces the socketpair with a loopback TCP connection (port 0): the
  // Connection gets the accepted end, the test drives the connecting one.
  void use_tcp() {
    auto pair = test::connected_pair("tcp://127.0.0.1:0");
    local_ = pair.server.release();
    peer_ = std::move(pair.client);
  }

  // One read on the peer (waiting up to 1 ms), appending to `into`; true once the
  // peer has seen the end of stream.
  bool peer_reads(std::vector<std::byte>& into) {
    std::array<std::byte, 65536> b{};
    auto n = peer_.recv_some(b, 1ms);
    if (n && *n == 0) return true;
    if (n) into.insert(into.end(), b.begin(), b.begin() + static_cast<long>(*n));
    return false;
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
  for (const char* m : {"alpha", "", "gamma"})
    ASSERT_TRUE(encode(Framing::length_prefix(), bytes_of(m), wire));
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
  c->on_close([&](Connection&, std::error_code ec) {
    closed = true;
    reason = ec;
  });
  c->start();
  const std::array<std::byte, 4> header{std::byte{0}, std::byte{0}, std::byte{0x10}, std::byte{0}};  // 4096
  ASSERT_TRUE(peer_.send_all(header, 1s));
  ASSERT_TRUE(run_until([&] { return closed; }));
  EXPECT_EQ(reason, errc::frame_too_large);
  std::array<std::byte, 1> b{};
  auto eof = peer_.recv_some(b, 2s);
  EXPECT_TRUE(test::closed_by_peer(eof)) << "the peer sees the connection go away";
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
  std::vector<std::uint64_t> bytes_in_at_signal;
  c->on_backpressure([&](Connection& self, bool above) {
    signals.push_back(above);
    bytes_in_at_signal.push_back(self.stats().bytes_in);
  });
  c->start();
  const auto chunk = test::random_bytes(64 * 1024, 5);
  // The peer never reads: the kernel buffers fill, then our queue grows past the mark.
  for (int i = 0; i < 64 && signals.empty(); ++i) {
    ASSERT_TRUE(c->send(chunk));
    loop_->run_once(1ms);
  }
  ASSERT_EQ(signals, std::vector<bool>{true});
  EXPECT_GT(c->queued_output(), 256u * 1024);
  // Above the mark the peer keeps sending for a while, and none of it is read.
  const auto piece = test::random_bytes(4096, 6);
  std::uint64_t peer_sent = 0;
  const auto window_ends = std::chrono::steady_clock::now() + 100ms;
  while (std::chrono::steady_clock::now() < window_ends) {
    if (auto n = peer_.send_some(piece, 1ms)) peer_sent += *n;  // times out once its buffer is full
    loop_->run_once(1ms);
  }
  ASSERT_GT(peer_sent, 0u) << "the peer could not send at all: the check below would prove nothing";
  EXPECT_EQ(c->stats().bytes_in, 0u) << "reading went on above the high-water mark";
  // Now the peer reads everything; the queue drains, the signal clears, and what
  // the peer sent meanwhile is read, but only after the signal cleared.
  std::vector<std::byte> drained;
  std::uint64_t bytes_in_while_paused = 0;
  ASSERT_TRUE(run_until(
      [&] {
        (void)peer_reads(drained);
        if (signals.size() < 2) bytes_in_while_paused = c->stats().bytes_in;
        return signals.size() == 2 && c->queued_output() == 0 && drained.size() == c->stats().bytes_out &&
               c->stats().bytes_in == peer_sent;
      },
      10s))
      << "bytes_in " << c->stats().bytes_in << " of " << peer_sent << ", peer read " << drained.size();
  EXPECT_EQ(signals, (std::vector<bool>{true, false}));
  EXPECT_EQ(bytes_in_at_signal.front(), 0u);
  EXPECT_EQ(bytes_in_while_paused, 0u);
}

TEST_P(ConnectionOn, PauseReadingHoldsInputUntilResumeReadingEvenWithAnEmptyOutputQueue) {
  auto c = make({.framing = Framing::raw()});
  std::vector<std::byte> got;
  c->on_message([&](Connection&, std::span<const std::byte> m) { got.insert(got.end(), m.begin(), m.end()); });
  c->pause_reading();  // before start(): not one byte may be read
  c->start();
  ASSERT_TRUE(peer_.send_all(bytes_of("held back"), 1s));
  // Turns enough for a delivery that should not come (readiness is immediate here).
  for (int i = 0; i < 20; ++i) loop_->run_once(1ms);
  EXPECT_EQ(c->stats().bytes_in, 0u) << "read while paused";
  c->resume_reading();
  ASSERT_TRUE(run_until([&] { return got.size() == 9; }));
  EXPECT_EQ(string_of(got), "held back");
  // A pause by the caller outlasts the end of the high-water pause: the output
  // draining below the low mark must not resume reading under the caller.
  c->pause_reading();
  ASSERT_TRUE(c->send(bytes_of("reply")));
  std::vector<std::byte> drained;
  ASSERT_TRUE(run_until([&] { (void)peer_reads(drained); return drained.size() == 5; }));
  ASSERT_TRUE(peer_.send_all(bytes_of("more"), 1s));
  for (int i = 0; i < 20; ++i) loop_->run_once(1ms);
  EXPECT_EQ(got.size(), 9u);
  c->resume_reading();
  ASSERT_TRUE(run_until([&] { return got.size() == 13; }));
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
  ASSERT_TRUE(run_until(
      [&] {
        std::array<std::byte, 65536> b{};
        auto n = peer_.recv_some(b, 1ms);
        if (n && *n == 0) {
          peer_.close();  // answer the FIN so the connection need not linger
          return true;
        }
        if (n) got.insert(got.end(), b.begin(), b.begin() + static_cast<long>(*n));
        return false;
      },
      10s));
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

TEST_P(ConnectionOn, AbortOnAUnixSocketEndsThePeersStreamAtOnce) {
  auto c = make();
  std::optional<std::error_code> closed;
  c->on_close([&](Connection&, std::error_code ec) { closed = ec; });
  c->start();
  ASSERT_TRUE(peer_.send_all("unread", 1s));
  ASSERT_TRUE(run_until([&] { return c->stats().bytes_in == 6; }));
  c->abort();
  EXPECT_FALSE(c->is_open());
  EXPECT_EQ(closed, std::make_error_code(std::errc::connection_aborted));
  std::array<std::byte, 1> b{};
  auto r = peer_.recv_some(b, 2s);
  // Unix stream sockets have no RST: the peer sees the end of stream (not a timeout).
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, 0u);
}

// A graceful close would send FIN here (everything the peer sent has been read,
// so the kernel has no reason to reset): only SO_LINGER 0 makes the peer's recv
// fail with ECONNRESET.
TEST_P(ConnectionOn, AbortResetsATcpConnection) {
  use_tcp();
  auto c = make();
  std::optional<std::error_code> closed;
  c->on_close([&](Connection&, std::error_code ec) { closed = ec; });
  c->start();
  ASSERT_TRUE(peer_.send_all("unread", 1s));
  ASSERT_TRUE(run_until([&] { return c->stats().bytes_in == 6; }));
  c->abort();
  EXPECT_FALSE(c->is_open());
  EXPECT_EQ(closed, std::make_error_code(std::errc::connection_aborted));
  std::array<std::byte, 1> b{};
  auto r = peer_.recv_some(b, 2s);
  ASSERT_FALSE(r) << "the peer read " << *r << " bytes (0: a FIN, not a reset)";
  EXPECT_EQ(r.error(), std::errc::connection_reset) << r.error().message();
}

TEST_P(ConnectionOn, AbortDropsQueuedOutputAndResetsTheTcpConnection) {
  use_tcp();
  auto c = make();
  c->start();
  // More than loopback's socket buffers hold, with a peer that does not read.
  const auto chunk = test::random_bytes(1 << 20, 7);
  constexpr std::size_t kChunks = 32;
  for (std::size_t i = 0; i < kChunks; ++i) {
    ASSERT_TRUE(c->send(chunk));
    loop_->run_once(1ms);
  }
  ASSERT_GT(c->queued_output(), 0u);
  c->abort();
  EXPECT_EQ(c->queued_output(), 0u);
  // The peer may still read what reached it before the reset; then recv fails.
  std::size_t got = 0;
  Result<std::size_t> r;
  std::array<std::byte, 65536> b{};
  while ((r = peer_.recv_some(b, 2s)) && *r > 0) got += *r;
  ASSERT_FALSE(r) << "the peer saw a FIN after " << got << " bytes, not a reset";
  EXPECT_EQ(r.error(), std::errc::connection_reset) << r.error().message();
  EXPECT_LT(got, kChunks * chunk.size());
}

TEST_P(ConnectionOn, ShutdownWriteSendsFinAfterEverythingQueuedAndReadingGoesOn) {
  auto c = make({.framing = Framing::raw()});
  std::string received;
  std::optional<std::error_code> closed;
  c->on_message([&](Connection&, std::span<const std::byte> m) { received += string_of(m); });
  c->on_close([&](Connection&, std::error_code ec) { closed = ec; });
  c->start();
  const auto data = test::random_bytes(2 << 20, 8);
  ASSERT_TRUE(c->send(data));
  ASSERT_GT(c->queued_output(), 0u) << "the FIN must wait behind queued bytes for this test to mean anything";
  c->shutdown_write();
  auto late = c->send("late");
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error(), std::errc::not_connected);
  std::vector<std::byte> got;
  ASSERT_TRUE(run_until([&] { return peer_reads(got); }, 10s)) << got.size() << " bytes, no FIN";
  EXPECT_EQ(got.size(), data.size());
  EXPECT_EQ(test::checksum(got), test::checksum(data));
  // Half-closed, not closed: the peer can still talk to us.
  ASSERT_TRUE(peer_.send_all("after the fin", 1s));
  ASSERT_TRUE(run_until([&] { return received.size() >= 13; }));
  EXPECT_EQ(received, "after the fin");
  EXPECT_TRUE(c->is_open());
  EXPECT_FALSE(closed.has_value());
  // The peer's own FIN then ends it cleanly (nothing left to send).
  peer_.close();
  ASSERT_TRUE(run_until([&] { return closed.has_value(); }));
  EXPECT_FALSE(*closed) << closed->message();
}

TEST_P(ConnectionOn, APeerClosedHandlerKeepsWritingToTheHalfClosedPeer) {
  auto c = make({.framing = Framing::raw()});
  const auto first = test::random_bytes(1 << 20, 9);  // beyond the socket buffer: written over many turns
  const auto second = test::random_bytes(256 * 1024, 10);
  int peer_closed = 0;
  std::optional<std::error_code> closed;
  c->on_peer_closed([&](Connection& self) {
    ++peer_closed;
    EXPECT_TRUE(self.send(first));
  });
  c->on_close([&](Connection&, std::error_code ec) { closed = ec; });
  c->start();
  ASSERT_TRUE(peer_.send_all("bye", 1s));
  ASSERT_TRUE(peer_.shutdown(ShutdownHow::write));
  ASSERT_TRUE(run_until([&] { return peer_closed == 1; }));
  test::run_for(*loop_, 20ms);
  ASSERT_TRUE(c->is_open()) << "with a handler, the peer's FIN does not close the connection";
  ASSERT_TRUE(c->send(second)) << "still open for writing after the peer's FIN";
  std::vector<std::byte> got;
  ASSERT_TRUE(run_until(
      [&] {
        (void)peer_reads(got);
        return got.size() >= first.size() + second.size();
      },
      10s))
      << got.size() << " bytes";
  std::vector<std::byte> expected(first);
  expected.insert(expected.end(), second.begin(), second.end());
  EXPECT_EQ(got.size(), expected.size());
  EXPECT_EQ(test::checksum(got), test::checksum(expected));
  EXPECT_EQ(peer_closed, 1);
  EXPECT_FALSE(closed.has_value());
  // Our close then needs no linger: the peer's FIN came long ago.
  c->close();
  ASSERT_TRUE(run_until([&] { return peer_reads(got); }));
  ASSERT_TRUE(run_until([&] { return closed.has_value(); }, 1s));
  EXPECT_FALSE(*closed) << closed->message();
}

TEST_P(ConnectionOn, TcpInfoOnATcpConnectionDescribesAnEstablishedConnection) {
  use_tcp();
  auto c = make();
  c->on_message([](Connection& self, std::span<const std::byte> m) { (void)self.send(m); });
  c->start();
  // One round trip, so the RTT estimate has a data sample behind it.
  ASSERT_TRUE(peer_.send_all("ping", 1s));
  std::array<std::byte, 4> echo{};
  ASSERT_TRUE(run_until([&] { return peer_.recv_exact(echo, 1ms).has_value(); }));
  auto info = c->tcp_info();
  ASSERT_TRUE(info) << info.error().message();
  EXPECT_EQ(info->state, TCP_ESTABLISHED);
  EXPECT_GT(info->mss, 0u);
  EXPECT_GT(info->congestion_window, 0u);
  // Filled in from the kernel's estimate (a loopback round trip takes microseconds).
  EXPECT_GT(info->rtt, 0us);
  EXPECT_LT(info->rtt, 1s);
  EXPECT_LT(info->rttvar, 1s);
  c->abort();
  EXPECT_FALSE(c->tcp_info()) << "no socket behind a closed connection";
}

TEST_P(ConnectionOn, TcpInfoOnAUnixConnectionIsAnError) {
  auto c = make();
  auto info = c->tcp_info();
  ASSERT_FALSE(info) << "state " << int{info->state} << ": a Unix socket has no TCP state";
  EXPECT_TRUE(info.error() == std::errc::operation_not_supported ||
              info.error() == std::errc::no_protocol_option)
      << info.error().message();
}

TEST_P(ConnectionOn, MessagesOutCountsMessagesQueuedForSendingNotWritten) {
  auto c = make({.framing = Framing::raw()});
  c->start();
  // The peer does not read, so most of this stays queued.
  ASSERT_TRUE(c->send(test::random_bytes(4 << 20, 11)));
  EXPECT_EQ(c->stats().messages_out, 1u);
  EXPECT_LT(c->stats().bytes_out, 4u << 20);
  EXPECT_GT(c->queued_output(), 0u);
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
