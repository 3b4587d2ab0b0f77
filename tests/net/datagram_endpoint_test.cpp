// DatagramEndpoint over every backend: echo with every byte checked (UDP v4/v6,
// Unix datagram path and abstract), batched receiving, truncation, the send
// queue's bound and its wait for a full peer, closing from inside a callback.
#include "sockit/net/datagram_endpoint.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <tuple>

#include "sockit/sockit.hpp"
#include "support/bytes.hpp"
#include "support/loop_helpers.hpp"
#include "support/temp_dir.hpp"

namespace sockit::net {
namespace {

using namespace std::chrono_literals;
using test::bytes_of;
using test::string_of;

Address parse(const std::string& text) { return *Address::parse(text); }

// Datagram `seq` of a test: its number, then bytes derived from it, sizes 4..1403.
std::vector<std::byte> datagram_for(std::uint32_t seq) {
  std::vector<std::byte> d = test::random_bytes(4 + (seq * 7919u) % 1400u, seq);
  std::memcpy(d.data(), &seq, sizeof seq);
  return d;
}

std::uint32_t seq_of(std::span<const std::byte> d) {
  std::uint32_t seq = ~0u;
  if (d.size() >= sizeof seq) std::memcpy(&seq, d.data(), sizeof seq);
  return seq;
}

std::shared_ptr<DatagramEndpoint> endpoint_on(event::EventLoop& loop, const Address& address,
                                              DatagramEndpointOptions options = {}) {
  auto socket = DatagramSocket::bind(address);
  EXPECT_TRUE(socket) << address.to_string() << ": " << socket.error().message();
  if (!socket) return nullptr;
  auto e = DatagramEndpoint::create(loop, std::move(*socket), options);
  EXPECT_TRUE(e) << e.error().message();
  return e ? *e : nullptr;
}

// --- echo over every transport ---------------------------------------------------------

enum class Kind { udp4, udp6, unix_path, unix_abstract };

std::string kind_name(Kind k) {
  switch (k) {
    case Kind::udp4:
      return "udp4";
    case Kind::udp6:
      return "udp6";
    case Kind::unix_path:
      return "unix_path";
    case Kind::unix_abstract:
      return "unix_abstract";
  }
  return "?";
}

class DatagramEndpointEcho : public ::testing::TestWithParam<std::tuple<std::string, Kind>> {
 protected:
  void SetUp() override {
    loop_ = test::make_loop_or_skip({.backend = std::get<0>(GetParam())});
    if (!loop_ && !IsSkipped()) FAIL() << "no loop";
  }
  void TearDown() override { loop_.reset(); }

  // Two addresses of the kind: the server's and the client's (which must be named
  // for the server to answer it).
  std::pair<std::string, std::string> addresses() {
    switch (std::get<1>(GetParam())) {
      case Kind::udp4:
        return {"udp://127.0.0.1:0", "udp://127.0.0.1:0"};
      case Kind::udp6:
        return {"udp://[::1]:0", "udp://[::1]:0"};
      case Kind::unix_path:
        return {"unix-dgram:" + dir_.file("s"), "unix-dgram:" + dir_.file("c")};
      case Kind::unix_abstract:
        return {"unix-dgram:@" + test::unique_abstract_name(), "unix-dgram:@" + test::unique_abstract_name()};
    }
    return {};
  }

  test::TempDir dir_;
  std::unique_ptr<event::EventLoop> loop_;
};

TEST_P(DatagramEndpointEcho, EchoesManyDatagramsWithEveryByteIntactAndTheSenderKnown) {
  if (!loop_) return;
  const auto [server_text, client_text] = addresses();
  if (std::get<1>(GetParam()) == Kind::udp6 && !DatagramSocket::bind(parse(server_text))) {
    GTEST_SKIP() << "no IPv6 loopback on this machine";
  }
  auto server = endpoint_on(*loop_, parse(server_text));
  auto client = endpoint_on(*loop_, parse(client_text));
  ASSERT_TRUE(server && client);
  const Address server_address = *server->local_address();
  const Address client_address = *client->local_address();

  std::size_t bad_senders = 0;
  server->on_datagram([&](DatagramEndpoint& e, std::span<const std::byte> d, const Address& from) {
    if (from != client_address) ++bad_senders;
    ASSERT_TRUE(e.send_to(d, from));
  });
  // A window of 32 datagrams in flight keeps UDP within the receive buffers: on
  // loopback nothing is lost unless a buffer overflows.
  constexpr std::uint32_t kCount = 600;
  constexpr std::uint32_t kWindow = 32;
  std::uint32_t next = 0;
  std::set<std::uint32_t> echoed;
  std::size_t mismatches = 0;
  auto send_next = [&](DatagramEndpoint& e) {
    const auto d = datagram_for(next++);
    ASSERT_TRUE(e.send_to(d, server_address));
  };
  client->on_datagram([&](DatagramEndpoint& e, std::span<const std::byte> d, const Address& from) {
    const std::uint32_t seq = seq_of(d);
    const auto expected = datagram_for(seq);
    if (from != server_address || seq >= kCount || !std::ranges::equal(d, expected)) ++mismatches;
    echoed.insert(seq);
    if (next < kCount) send_next(e);
  });
  server->start();
  client->start();
  for (std::uint32_t i = 0; i < kWindow; ++i) send_next(*client);

  ASSERT_TRUE(test::run_until(
      *loop_, [&] { return echoed.size() == kCount; }, 20s))
      << echoed.size() << " of " << kCount << " echoed";
  EXPECT_EQ(mismatches, 0u);
  EXPECT_EQ(bad_senders, 0u);
  EXPECT_EQ(server->stats().datagrams_in, kCount);
  EXPECT_EQ(server->stats().datagrams_out, kCount);
  EXPECT_EQ(client->stats().datagrams_out, kCount);
  EXPECT_EQ(server->stats().bytes_in, server->stats().bytes_out);
  EXPECT_EQ(server->stats().truncated + server->stats().dropped, 0u);
}

std::string echo_name(const ::testing::TestParamInfo<std::tuple<std::string, Kind>>& info) {
  std::string backend = std::get<0>(info.param);
  std::ranges::replace(backend, '-', '_');
  return backend + "_" + kind_name(std::get<1>(info.param));
}

INSTANTIATE_TEST_SUITE_P(Backends, DatagramEndpointEcho,
                         ::testing::Combine(::testing::ValuesIn(test::backends_under_test()),
                                            ::testing::Values(Kind::udp4, Kind::udp6, Kind::unix_path,
                                                              Kind::unix_abstract)),
                         echo_name);

// --- one backend at a time ---------------------------------------------------------------

class DatagramEndpointOn : public test::LoopTest {};

TEST_P(DatagramEndpointOn, ABurstOfAThousandDatagramsIsReceivedInBatches) {
  if (!loop_) return;
  auto socket = DatagramSocket::bind(parse("udp://127.0.0.1:0"));
  ASSERT_TRUE(socket);
  ASSERT_TRUE(socket->set_receive_buffer_size(2 << 20));  // room for a whole round of the burst
  auto server = DatagramEndpoint::create(loop(), std::move(*socket), {.max_datagram_size = 2048});
  ASSERT_TRUE(server);
  const Address server_address = *(*server)->local_address();
  auto client = DatagramSocket::bind(parse("udp://127.0.0.1:0"));
  ASSERT_TRUE(client);
  const Address client_address = *client->local_address();

  std::vector<std::uint32_t> got;
  std::size_t bad = 0;
  (*server)->on_datagram([&](DatagramEndpoint&, std::span<const std::byte> d, const Address& from) {
    if (from != client_address || !std::ranges::equal(d, datagram_for(seq_of(d)))) ++bad;
    got.push_back(seq_of(d));
  });
  (*server)->start();
  // Rounds of 250 sent before the loop runs: each round waits in the socket and is
  // taken 32 at a time.
  const std::uint64_t wakeups_before = loop().stats().events;
  constexpr std::uint32_t kCount = 1000;
  for (std::uint32_t round = 0; round < kCount / 250; ++round) {
    for (std::uint32_t i = round * 250; i < (round + 1) * 250; ++i) {
      ASSERT_TRUE(client->send_to(datagram_for(i), server_address, 1s));
    }
    ASSERT_TRUE(test::run_until(loop(), [&] { return got.size() == (round + 1) * 250; }))
        << got.size() << " received";
  }
  EXPECT_EQ(bad, 0u);
  std::vector<std::uint32_t> in_order(kCount);
  for (std::uint32_t i = 0; i < kCount; ++i) in_order[i] = i;
  EXPECT_EQ(got, in_order);
  // Batched: each wake-up takes what is there 32 at a time, then one call finds
  // the socket empty. The wake-ups are counted, not assumed: on a loaded machine
  // loopback delivery can lag behind the sender, so the datagrams may arrive in
  // more wake-ups than rounds; one call per datagram would still be far over.
  const auto calls = (*server)->stats().receive_calls;
  const auto wakeups = loop().stats().events - wakeups_before;
  EXPECT_LT(calls, kCount / 4 + 2 * wakeups)
      << calls << " recvmmsg calls for " << kCount << " datagrams in " << wakeups << " wake-ups";
  (*server)->close();
}

TEST_P(DatagramEndpointOn, ADatagramLargerThanTheBufferIsCountedAndReportedNotDelivered) {
  if (!loop_) return;
  auto server = endpoint_on(loop(), parse("udp://127.0.0.1:0"), {.max_datagram_size = 100});
  ASSERT_TRUE(server);
  auto client = DatagramSocket::bind(parse("udp://127.0.0.1:0"));
  ASSERT_TRUE(client);
  std::vector<std::string> delivered;
  std::vector<std::size_t> truncated_sizes;
  server->on_datagram([&](DatagramEndpoint&, std::span<const std::byte> d, const Address&) {
    delivered.push_back(string_of(d));
  });
  server->on_truncated([&](DatagramEndpoint&, std::size_t real, const Address& from) {
    truncated_sizes.push_back(real);
    EXPECT_EQ(from, *client->local_address());
  });
  server->start();
  const std::string small(50, 'a');
  const std::string exact(100, 'b');
  const std::string large(200, 'c');
  const Address to = *server->local_address();
  for (const std::string* s : {&small, &large, &exact}) ASSERT_TRUE(client->send_to(bytes_of(*s), to, 1s));
  ASSERT_TRUE(test::run_until(loop(), [&] { return delivered.size() + truncated_sizes.size() == 3; }));
  EXPECT_EQ(delivered, (std::vector<std::string>{small, exact}));
  EXPECT_EQ(truncated_sizes, std::vector<std::size_t>{200});
  EXPECT_EQ(server->stats().truncated, 1u);
  EXPECT_EQ(server->stats().datagrams_in, 2u);
}

TEST_P(DatagramEndpointOn, TheSendQueueRefusesBeyondItsBoundWithLimitReached) {
  if (!loop_) return;
  auto sender =
      endpoint_on(loop(), parse("udp://127.0.0.1:0"), {.max_queued_datagrams = 4, .max_queued_bytes = 1000});
  auto receiver = DatagramSocket::bind(parse("udp://127.0.0.1:0"));
  ASSERT_TRUE(sender && receiver);
  const Address to = *receiver->local_address();
  const std::vector<std::byte> hundred(100, std::byte{1});
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(sender->send_to(hundred, to));
  auto refused = sender->send_to(hundred, to);  // a fifth datagram: nothing was sent yet
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), errc::limit_reached);
  EXPECT_EQ(sender->queued_datagrams(), 4u);
  EXPECT_EQ(sender->stats().dropped, 1u);
  ASSERT_TRUE(test::run_until(loop(), [&] { return sender->queued_datagrams() == 0; }));
  std::array<std::byte, 200> buffer{};
  for (int i = 0; i < 4; ++i) {
    auto d = receiver->recv_from(buffer, 1s);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->size, 100u);
  }
  // The byte bound: 600 fits, another 600 would make 1200 > 1000.
  const std::vector<std::byte> six_hundred(600, std::byte{2});
  ASSERT_TRUE(sender->send_to(six_hundred, to));
  auto too_many_bytes = sender->send_to(six_hundred, to);
  ASSERT_FALSE(too_many_bytes);
  EXPECT_EQ(too_many_bytes.error(), errc::limit_reached);
  ASSERT_TRUE(test::run_until(loop(), [&] { return sender->queued_datagrams() == 0; }));
  EXPECT_EQ(sender->stats().datagrams_out, 5u);
}

// A Unix datagram receiver holds only net.unix.max_dgram_qlen datagrams: the
// sender's queue must wait (for writability when connected, on a backing-off timer
// when not, where poll cannot tell) and lose nothing, in order.
void check_waits_for_a_full_receiver(event::EventLoop& loop, bool connected) {
  test::TempDir dir;
  const Address receiver_address = parse("unix-dgram:" + dir.file("r"));
  auto receiver = DatagramSocket::bind(receiver_address);
  ASSERT_TRUE(receiver);
  auto socket = connected ? DatagramSocket::connect(receiver_address)
                          : DatagramSocket::bind(parse("unix-dgram:" + dir.file("s")));
  ASSERT_TRUE(socket);
  auto sender = DatagramEndpoint::create(loop, std::move(*socket));
  ASSERT_TRUE(sender);
  constexpr std::uint32_t kCount = 300;
  for (std::uint32_t i = 0; i < kCount; ++i) {
    const auto d = datagram_for(i);
    ASSERT_TRUE(connected ? (*sender)->send(d) : (*sender)->send_to(d, receiver_address));
  }
  std::vector<std::byte> buffer(2048);
  std::uint32_t expected = 0;
  const auto until = std::chrono::steady_clock::now() + 20s;
  while (expected < kCount && std::chrono::steady_clock::now() < until) {
    ASSERT_TRUE(loop.run_once(5ms));
    for (;;) {
      auto d = receiver->recv_from(buffer, 0ms);  // take what is there, without waiting
      if (!d) break;
      ASSERT_EQ(seq_of(std::span(buffer).first(d->size)), expected);
      ASSERT_TRUE(std::ranges::equal(std::span(buffer).first(d->size), datagram_for(expected)));
      ++expected;
    }
  }
  EXPECT_EQ(expected, kCount);
  EXPECT_EQ((*sender)->stats().dropped, 0u);
  EXPECT_LT((*sender)->stats().send_calls, 3 * kCount);  // waited, did not spin
}

TEST_P(DatagramEndpointOn, AConnectedSenderWaitsForAFullUnixReceiverAndLosesNothing) {
  if (!loop_) return;
  check_waits_for_a_full_receiver(loop(), true);
}

TEST_P(DatagramEndpointOn, AnUnconnectedSenderWaitsForAFullUnixReceiverAndLosesNothing) {
  if (!loop_) return;
  check_waits_for_a_full_receiver(loop(), false);
}

// With drop_when_blocked a Unix peer that does not read (its queue full, so EAGAIN)
// loses the replies its queue cannot hold, and the datagram queued behind them for
// another peer goes out at once instead of waiting behind them for ever.
TEST_P(DatagramEndpointOn, DropWhenBlockedKeepsAPeerThatDoesNotReadFromHoldingUpTheOthers) {
  if (!loop_) return;
  test::TempDir dir;
  const Address stuck_address = parse("unix-dgram:" + dir.file("stuck"));
  const Address other_address = parse("unix-dgram:" + dir.file("other"));
  auto stuck = DatagramSocket::bind(stuck_address);
  auto other = DatagramSocket::bind(other_address);
  ASSERT_TRUE(stuck && other);
  auto sender = endpoint_on(loop(), parse("unix-dgram:" + dir.file("sender")), {.drop_when_blocked = true});
  ASSERT_TRUE(sender);
  std::vector<std::error_code> errors;
  sender->on_error([&](DatagramEndpoint&, std::error_code ec) { errors.push_back(ec); });
  constexpr std::uint32_t kCount = 50;  // well over net.unix.max_dgram_qlen (10 by default)
  for (std::uint32_t i = 0; i < kCount; ++i) ASSERT_TRUE(sender->send_to(datagram_for(i), stuck_address));
  ASSERT_TRUE(sender->send_to(bytes_of("not held up"), other_address));

  std::vector<std::byte> buffer(2048);
  ASSERT_TRUE(test::run_until(
      loop(), [&] { return sender->queued_datagrams() == 0; }, 2s));
  auto got = other->recv_from(buffer, 1s);
  ASSERT_TRUE(got);
  EXPECT_EQ(string_of(std::span(buffer).first(got->size)), "not held up");
  // What the stuck peer holds came in order; the rest was dropped, each reported.
  std::uint32_t held = 0;
  while (auto d = stuck->recv_from(buffer, 0ms)) {
    ASSERT_EQ(seq_of(std::span(buffer).first(d->size)), held);
    ++held;
  }
  EXPECT_LT(held, kCount);
  EXPECT_EQ(sender->stats().dropped, kCount - held);
  EXPECT_EQ(sender->stats().datagrams_out, held + 1);
  ASSERT_EQ(errors.size(), kCount - held);
  EXPECT_EQ(errors.front(), std::errc::resource_unavailable_try_again);
}

TEST_P(DatagramEndpointOn, ClosingFromInsideTheCallbackStopsDeliveryAtOnce) {
  if (!loop_) return;
  auto server = endpoint_on(loop(), parse("unix-dgram:@" + test::unique_abstract_name()));
  ASSERT_TRUE(server);
  auto client = DatagramSocket::connect(*server->local_address());
  ASSERT_TRUE(client);
  int delivered = 0;
  int closes = 0;
  std::error_code reason = make_error_code(errc::invalid_argument);
  server->on_datagram([&](DatagramEndpoint& e, std::span<const std::byte>, const Address&) {
    ++delivered;
    e.close();
  });
  server->on_close([&](DatagramEndpoint&, std::error_code ec) {
    ++closes;
    reason = ec;
  });
  server->start();
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(client->send("one of eight", 1s));  // one batch
  ASSERT_TRUE(test::run_until(loop(), [&] { return closes == 1; }));
  test::run_for(loop(), 30ms);
  EXPECT_EQ(delivered, 1);
  EXPECT_EQ(closes, 1);
  EXPECT_FALSE(reason);
  EXPECT_FALSE(server->is_open());
  EXPECT_FALSE(server->send(bytes_of("after close")));
}

TEST_P(DatagramEndpointOn, DroppingTheLastReferenceInsideTheCallbackIsSafe) {
  if (!loop_) return;
  auto server = endpoint_on(loop(), parse("udp://127.0.0.1:0"));
  ASSERT_TRUE(server);
  auto client = DatagramSocket::bind(parse("udp://127.0.0.1:0"));
  ASSERT_TRUE(client);
  const Address to = *server->local_address();
  int delivered = 0;
  server->on_datagram([&](DatagramEndpoint& e, std::span<const std::byte>, const Address&) {
    ++delivered;
    e.close();
    server.reset();  // the endpoint stays alive until the callback returns
  });
  server->start();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(client->send_to(bytes_of("x"), to, 1s));
  ASSERT_TRUE(test::run_until(loop(), [&] { return server == nullptr; }));
  test::run_for(loop(), 20ms);
  EXPECT_EQ(delivered, 1);
}

TEST_P(DatagramEndpointOn, ClosingAUnixPathEndpointRemovesItsSocketFile) {
  if (!loop_) return;
  test::TempDir dir;
  const std::string path = dir.file("e");
  auto e = endpoint_on(loop(), parse("unix-dgram:" + path));
  ASSERT_TRUE(e);
  e->start();
  EXPECT_EQ(::access(path.c_str(), F_OK), 0);
  e->close();
  EXPECT_NE(::access(path.c_str(), F_OK), 0);
}

TEST_P(DatagramEndpointOn, AStreamSocketIsRefused) {
  if (!loop_) return;
  auto listener = listen(parse("unix:@" + test::unique_abstract_name()));
  ASSERT_TRUE(listener);
  auto wrong = DatagramEndpoint::create(loop(), DatagramSocket(listener->release(), Transport::unix_stream));
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error(), errc::wrong_transport);
}

// What sockit echo and the hostile battery's datagram echo run on.
TEST(ServerEndpointOptions, KeepReceiveMemoryNearTwoMiBAndRoomForTwoOfTheLargestReply) {
  const DatagramEndpointOptions defaults;
  const auto standard = server_endpoint_options(64 * 1024);
  EXPECT_EQ(standard.max_datagram_size, 64u * 1024);
  EXPECT_EQ(standard.receive_batch, defaults.receive_batch) << "64 KiB: the default 32 x 64 KiB";
  EXPECT_EQ(standard.max_queued_bytes, defaults.max_queued_bytes);
  EXPECT_TRUE(standard.drop_when_blocked) << "a peer that does not read must not hold up the others";

  const auto small = server_endpoint_options(512);
  EXPECT_EQ(small.receive_batch, defaults.receive_batch) << "never more per call than the default";

  const auto large = server_endpoint_options(1024 * 1024);
  EXPECT_EQ(large.receive_batch, 2u) << "2 MiB of receive memory: two 1 MiB datagrams per call";
  const auto huge = server_endpoint_options(16u << 20);
  EXPECT_EQ(huge.receive_batch, 1u) << "never fewer than one";
  EXPECT_EQ(huge.max_queued_bytes, 32u << 20) << "two of the largest fit the reply queue";

  EXPECT_EQ(server_endpoint_options(0).max_datagram_size, 1u) << "no zero-sized receive buffer";
}

INSTANTIATE_TEST_SUITE_P(Backends, DatagramEndpointOn, ::testing::ValuesIn(test::backends_under_test()),
                         test::backend_param_name);

}  // namespace
}  // namespace sockit::net
