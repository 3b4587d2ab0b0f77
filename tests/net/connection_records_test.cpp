// Connection in record mode (SOCK_SEQPACKET) over every backend: each record is
// one message both ways, whole, in order, never merged or split; oversized
// records, empty records, the peer's close and backpressure.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <chrono>
#include <string>
#include <vector>

#include "sockit/net/connection.hpp"
#include "sockit/sockit.hpp"
#include "support/bytes.hpp"
#include "support/loop_helpers.hpp"
#include "support/peer_closed.hpp"

namespace sockit::net {
namespace {

using namespace std::chrono_literals;
using test::bytes_of;
using test::string_of;

// Room for a 200 KiB record and a burst of small ones without the peer blocking
// (the kernel doubles the value; wmem_max caps it).
constexpr int kRoomyBuffer = 4 << 20;

// A small send buffer for the Connection's side, so its output meets EAGAIN and
// has to wait for writability.
bool shrink_send_buffer(int fd) {
  const int bytes = 32 * 1024;
  return ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes) == 0;
}

struct Side {
  Fd local;              // becomes the Connection
  SeqPacketSocket peer;  // driven by the test, blocking with deadlines
};

class ConnectionRecordsOn : public test::LoopTest {
 protected:
  static Side make_pair() {
    auto pair = seqpacket_socket_pair();
    EXPECT_TRUE(pair) << pair.error().message();
    if (!pair) return {};
    EXPECT_TRUE(pair->first.set_send_buffer_size(kRoomyBuffer));
    EXPECT_TRUE(pair->second.set_send_buffer_size(kRoomyBuffer));
    return {pair->first.release(), std::move(pair->second)};
  }

  std::shared_ptr<Connection> make(Fd fd, ConnectionOptions options = {}) {
    auto c = Connection::create(loop(), std::move(fd), options);
    EXPECT_TRUE(c) << c.error().message();
    return c ? *c : nullptr;
  }

  bool run_until(std::function<bool()> done, std::chrono::milliseconds limit = 5s) {
    return test::run_until(loop(), std::move(done), limit);
  }

  // Receives one record on the peer if one arrives within a millisecond.
  static std::optional<std::vector<std::byte>> take_record(SeqPacketSocket& peer) {
    auto size = peer.next_message_size(1ms);
    if (!size) return std::nullopt;
    std::vector<std::byte> record(*size);
    auto got = peer.recv(record, 1s);
    if (!got) return std::nullopt;
    record.resize(*got);
    return record;
  }
};

TEST_P(ConnectionRecordsOn, IsInRecordModeOnSeqpacketOnly) {
  Side side = make_pair();
  auto records = make(std::move(side.local));
  ASSERT_TRUE(records);
  EXPECT_TRUE(records->is_record_mode());
  auto pair = stream_socket_pair();
  ASSERT_TRUE(pair);
  auto stream = make(pair->first.release());
  ASSERT_TRUE(stream);
  EXPECT_FALSE(stream->is_record_mode());
}

TEST_P(ConnectionRecordsOn, RecordsOfEverySizeArriveWholeAndInOrderAndEchoWhole) {
  Side side = make_pair();
  // The default max_frame (16 MiB) is over the 64 KiB scratch: sizes are peeked first.
  auto c = make(std::move(side.local));
  std::vector<std::size_t> sizes_in;
  std::vector<std::uint64_t> sums_in;
  c->on_message([&](Connection& self, std::span<const std::byte> m) {
    sizes_in.push_back(m.size());
    sums_in.push_back(test::checksum(m));
    ASSERT_TRUE(self.send(m));
  });
  c->start();
  const std::vector<std::size_t> sizes = {0, 1, 100, 64 * 1024, 64 * 1024 + 1, 200 * 1024, 7};
  std::vector<std::uint64_t> sums;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    const auto record = test::random_bytes(sizes[i], i + 1);
    sums.push_back(test::checksum(record));
    ASSERT_TRUE(side.peer.send(record, 2s)) << sizes[i];
  }
  ASSERT_TRUE(run_until([&] { return sizes_in.size() == sizes.size(); }));
  EXPECT_EQ(sizes_in, sizes);
  EXPECT_EQ(sums_in, sums);
  EXPECT_EQ(c->stats().messages_in, sizes.size());

  std::vector<std::size_t> sizes_back;
  std::vector<std::uint64_t> sums_back;
  ASSERT_TRUE(run_until([&] {
    if (auto record = take_record(side.peer)) {
      sizes_back.push_back(record->size());
      sums_back.push_back(test::checksum(*record));
    }
    return sizes_back.size() == sizes.size();
  }));
  EXPECT_EQ(sizes_back, sizes);
  EXPECT_EQ(sums_back, sums);
  EXPECT_EQ(c->stats().messages_out, sizes.size());
  EXPECT_TRUE(c->is_open());
}

TEST_P(ConnectionRecordsOn, AMaxFrameWithinTheScratchReadsEachRecordInOneCall) {
  Side side = make_pair();
  auto c = make(std::move(side.local), {.framing = Framing::length_prefix(1000)});
  std::vector<std::size_t> sizes_in;
  std::error_code reason;
  bool closed = false;
  c->on_message([&](Connection&, std::span<const std::byte> m) { sizes_in.push_back(m.size()); });
  c->on_close([&](Connection&, std::error_code ec) {
    closed = true;
    reason = ec;
  });
  c->start();
  for (std::size_t size : {0, 1, 999, 1000, 1001}) {
    ASSERT_TRUE(side.peer.send(test::random_bytes(size, size), 2s));
  }
  ASSERT_TRUE(run_until([&] { return closed; }));
  EXPECT_EQ(sizes_in, (std::vector<std::size_t>{0, 1, 999, 1000}));
  EXPECT_EQ(reason, errc::frame_too_large);
}

TEST_P(ConnectionRecordsOn, ABurstOfAThousandRecordsIsAThousandMessagesBothWays) {
  Side side = make_pair();
  // The Connection's own send buffer stays small, so its output meets EAGAIN and
  // waits for writability on the way.
  ASSERT_TRUE(shrink_send_buffer(side.local.get()));
  auto c = make(std::move(side.local));
  std::vector<std::string> got;
  c->on_message([&](Connection&, std::span<const std::byte> m) { got.push_back(string_of(m)); });
  c->start();
  constexpr int kRecords = 1000;
  std::vector<std::string> sent;
  for (int i = 0; i < kRecords; ++i) {
    sent.push_back("record " + std::to_string(i));
    ASSERT_TRUE(side.peer.send(bytes_of(sent.back()), 2s));
  }
  ASSERT_TRUE(run_until([&] { return got.size() >= kRecords; }));
  test::run_for(loop(), 20ms);
  EXPECT_EQ(got, sent) << "each record is one message, never merged";

  for (const std::string& s : sent) ASSERT_TRUE(c->send(s));
  std::vector<std::string> back;
  ASSERT_TRUE(run_until(
      [&] {
        while (auto record = take_record(side.peer)) back.push_back(string_of(*record));
        return back.size() >= kRecords;
      },
      10s));
  EXPECT_EQ(back, sent) << "each send is one record, never merged";
  EXPECT_EQ(c->stats().bytes_out, c->stats().bytes_in);
}

TEST_P(ConnectionRecordsOn, AnOversizedRecordClosesOnlyThatConnectionWithAProtocolError) {
  Side bad_side = make_pair();
  Side good_side = make_pair();
  auto bad = make(std::move(bad_side.local), {.framing = Framing::length_prefix(100 * 1024)});
  auto good = make(std::move(good_side.local), {.framing = Framing::length_prefix(100 * 1024)});
  std::error_code reason;
  bool bad_closed = false;
  bool good_closed = false;
  bad->on_close([&](Connection&, std::error_code ec) {
    bad_closed = true;
    reason = ec;
  });
  good->on_close([&](Connection&, std::error_code) { good_closed = true; });
  good->on_message([](Connection& self, std::span<const std::byte> m) { (void)self.send(m); });
  bad->start();
  good->start();
  ASSERT_TRUE(bad_side.peer.send(test::random_bytes(150 * 1024, 1), 2s));
  ASSERT_TRUE(run_until([&] { return bad_closed; }));
  EXPECT_EQ(reason, errc::frame_too_large);
  std::array<std::byte, 16> b{};
  auto eof = bad_side.peer.recv(b, 2s);
  EXPECT_TRUE(test::closed_by_peer(eof)) << "the offender sees its connection go away";

  ASSERT_TRUE(good_side.peer.send(bytes_of("unaffected"), 2s));
  std::optional<std::vector<std::byte>> echo;
  ASSERT_TRUE(run_until([&] { return (echo = take_record(good_side.peer)).has_value(); }));
  EXPECT_EQ(string_of(*echo), "unaffected");
  EXPECT_FALSE(good_closed);
}

TEST_P(ConnectionRecordsOn, SendRefusesARecordOverMaxFrameOrBeyondTheOutputLimit) {
  Side side = make_pair();
  auto c = make(std::move(side.local),
                {.framing = Framing::length_prefix(64 * 1024), .max_output_bytes = 1 << 20});
  c->start();
  auto too_big = c->send(test::random_bytes(64 * 1024 + 1, 2));
  ASSERT_FALSE(too_big);
  EXPECT_EQ(too_big.error(), errc::frame_too_large);
  // The peer never reads: the socket fills, then the queue reaches the limit.
  const auto record = test::random_bytes(64 * 1024, 3);
  Status r;
  for (int i = 0; i < 200 && r; ++i) r = c->send(record);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::limit_reached);
  EXPECT_LE(c->queued_output(), 1u << 20);
  EXPECT_TRUE(c->is_open());
}

TEST_P(ConnectionRecordsOn, ARecordOverTheSocketSendBufferClosesTheConnectionWithEmsgsize) {
  Side side = make_pair();
  ASSERT_TRUE(shrink_send_buffer(side.local.get()));  // 64 KiB once the kernel doubles it
  auto c = make(std::move(side.local));
  std::optional<std::error_code> closed;
  c->on_close([&](Connection&, std::error_code ec) { closed = ec; });
  c->start();
  ASSERT_TRUE(c->send(test::random_bytes(100 * 1024, 4)));  // queued: the kernel refuses it when written
  ASSERT_TRUE(run_until([&] { return closed.has_value(); }));
  EXPECT_EQ(*closed, std::errc::message_size) << closed->message();
  EXPECT_FALSE(c->is_open());
}

TEST_P(ConnectionRecordsOn, AnEmptyRecordIsAnEmptyMessageAndTheConnectionStaysOpen) {
  Side side = make_pair();
  auto c = make(std::move(side.local));
  std::vector<std::string> got;
  c->on_message([&](Connection&, std::span<const std::byte> m) { got.push_back(string_of(m)); });
  c->start();
  ASSERT_TRUE(side.peer.send({}, 1s));
  ASSERT_TRUE(run_until([&] { return got.size() == 1; }));
  test::run_for(loop(), 20ms);
  EXPECT_TRUE(c->is_open());
  ASSERT_TRUE(side.peer.send(bytes_of("after"), 1s));
  ASSERT_TRUE(run_until([&] { return got.size() == 2; }));
  EXPECT_EQ(got, (std::vector<std::string>{"", "after"}));

  // And the other way: an empty send is an empty record.
  ASSERT_TRUE(c->send(std::span<const std::byte>()));
  ASSERT_TRUE(c->send("x"));
  std::vector<std::string> back;
  ASSERT_TRUE(run_until([&] {
    while (auto record = take_record(side.peer)) back.push_back(string_of(*record));
    return back.size() == 2;
  }));
  EXPECT_EQ(back, (std::vector<std::string>{"", "x"}));
  EXPECT_TRUE(c->is_open());
}

TEST_P(ConnectionRecordsOn, APeerCloseIsSeenAsCloseAfterEveryRecordBeforeIt) {
  Side side = make_pair();
  auto c = make(std::move(side.local));
  std::vector<std::string> got;
  std::optional<std::error_code> closed;
  c->on_message([&](Connection&, std::span<const std::byte> m) { got.push_back(string_of(m)); });
  c->on_close([&](Connection&, std::error_code ec) { closed = ec; });
  // Everything is queued and the peer gone before the first read: the empty
  // record is told from the end of stream by the record that follows it.
  for (const char* r : {"a", "", "b"}) ASSERT_TRUE(side.peer.send(bytes_of(r), 1s));
  side.peer.close();
  c->start();
  ASSERT_TRUE(run_until([&] { return closed.has_value(); }));
  EXPECT_EQ(got, (std::vector<std::string>{"a", "", "b"}));
  EXPECT_FALSE(*closed) << closed->message();
}

TEST_P(ConnectionRecordsOn, APeerHalfCloseStillGetsTheRepliesByDefault) {
  Side side = make_pair();
  auto c = make(std::move(side.local));
  bool closed = false;
  c->on_message([](Connection& self, std::span<const std::byte> m) { (void)self.send(m); });
  c->on_close([&](Connection&, std::error_code ec) { closed = !ec; });
  c->start();
  for (const char* r : {"one", "two", "three"}) ASSERT_TRUE(side.peer.send(bytes_of(r), 1s));
  ASSERT_TRUE(side.peer.shutdown(ShutdownHow::write));
  std::vector<std::string> back;
  bool end = false;
  ASSERT_TRUE(run_until([&] {
    std::array<std::byte, 64> b{};
    auto n = side.peer.recv(b, 1ms);
    if (n && *n == 0) end = true;
    if (n && *n > 0) back.push_back(string_of(std::span(b).first(*n)));
    return end;
  }));
  EXPECT_EQ(back, (std::vector<std::string>{"one", "two", "three"}));
  ASSERT_TRUE(run_until([&] { return closed; }));
}

TEST_P(ConnectionRecordsOn, APeerThatDoesNotReadTriggersBackpressureAndPausesReading) {
  Side side = make_pair();
  ASSERT_TRUE(shrink_send_buffer(side.local.get()));
  auto c = make(std::move(side.local),
                {.framing = {}, .high_water_mark = 256 * 1024, .low_water_mark = 64 * 1024});
  std::vector<bool> signals;
  std::vector<std::string> got;
  c->on_backpressure([&](Connection&, bool above) { signals.push_back(above); });
  c->on_message([&](Connection&, std::span<const std::byte> m) { got.push_back(string_of(m)); });
  c->start();
  const auto record = test::random_bytes(16 * 1024, 5);
  int sent = 0;
  for (; sent < 200 && signals.empty(); ++sent) {
    ASSERT_TRUE(c->send(record));
    loop().run_once(1ms);
  }
  ASSERT_EQ(signals, std::vector<bool>{true});
  EXPECT_GT(c->queued_output(), 256u * 1024);
  // Above the mark, nothing is read from this peer.
  ASSERT_TRUE(side.peer.send(bytes_of("held back"), 1s));
  test::run_for(loop(), 50ms);
  EXPECT_TRUE(got.empty());
  // The peer reads: every record arrives whole, the signal clears, reading resumes.
  int received = 0;
  bool whole = true;
  ASSERT_TRUE(run_until(
      [&] {
        while (auto r = take_record(side.peer)) {
          ++received;
          whole = whole && *r == record;
        }
        return received == sent && signals.size() == 2 && !got.empty();
      },
      10s));
  EXPECT_TRUE(whole);
  EXPECT_EQ(signals, (std::vector<bool>{true, false}));
  EXPECT_EQ(got, std::vector<std::string>{"held back"});
}

TEST_P(ConnectionRecordsOn, GracefulCloseSendsEveryQueuedRecordThenTheEnd) {
  Side side = make_pair();
  ASSERT_TRUE(shrink_send_buffer(side.local.get()));
  auto c = make(std::move(side.local));
  bool closed = false;
  c->on_close([&](Connection&, std::error_code) { closed = true; });
  c->start();
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(c->send(test::random_bytes(8192, i)));
  c->close();
  int received = 0;
  ASSERT_TRUE(run_until(
      [&] {
        for (;;) {
          auto size = side.peer.next_message_size(1ms);
          if (!size) return false;
          std::vector<std::byte> b(*size);
          auto n = side.peer.recv(b, 1s);
          if (!n) return false;
          if (*n == 0) {        // (no empty records were sent: this is the end)
            side.peer.close();  // answer it so the connection need not linger
            return true;
          }
          ++received;
        }
      },
      10s));
  EXPECT_EQ(received, 100);
  ASSERT_TRUE(run_until([&] { return closed; }));
}

INSTANTIATE_TEST_SUITE_P(Backends, ConnectionRecordsOn, ::testing::ValuesIn(test::backends_under_test()),
                         test::backend_param_name);

}  // namespace
}  // namespace sockit::net
