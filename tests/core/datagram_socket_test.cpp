// DatagramSocket: boundaries kept and never silently cut, over UDP (v4, v6) and
// Unix datagram sockets (path, abstract, socketpair).
#include "sockit/datagram_socket.hpp"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <set>
#include <thread>
#include <string>
#include <vector>

#include "sockit/sockit.hpp"
#include "support/bytes.hpp"
#include "support/temp_dir.hpp"

namespace sockit {
namespace {

using namespace std::chrono_literals;
using test::bytes_of;
using test::string_of;

std::string bind_address_for(const std::string& kind, const test::TempDir& dir) {
  if (kind == "udp4") return "udp://127.0.0.1:0";
  if (kind == "udp6") return "udp://[::1]:0";
  if (kind == "unix_path") return "unix-dgram:" + dir.file("d.sock");
  return "unix-dgram:@" + test::unique_abstract_name();
}

// A bound server and a client connected to it, over the transport in the parameter.
class DatagramSocketOver : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto address = Address::parse(bind_address_for(GetParam(), dir_));
    ASSERT_TRUE(address) << address.error().message();
    auto server = DatagramSocket::bind(*address);
    if (!server && GetParam() == "udp6" &&
        (server.error() == std::errc::address_not_available ||
         server.error() == std::errc::address_family_not_supported)) {
      GTEST_SKIP() << "no IPv6 loopback here: " << server.error().message();
    }
    ASSERT_TRUE(server) << server.error().message();
    server_ = std::move(*server);
    auto bound = server_.local_address();
    ASSERT_TRUE(bound) << bound.error().message();
    server_address_ = *bound;
    auto client = DatagramSocket::connect(server_address_);
    ASSERT_TRUE(client) << client.error().message();
    client_ = std::move(*client);
  }

  test::TempDir dir_;
  DatagramSocket server_;
  DatagramSocket client_;
  Address server_address_;
};

TEST_P(DatagramSocketOver, ServerRepliesToTheClientItHeardFrom) {
  if (GetParam().starts_with("udp")) {
    EXPECT_NE(server_address_.port(), 0) << "port 0 became a real port";
  }
  ASSERT_TRUE(client_.send("ping", 5s));
  std::array<std::byte, 64> buf{};
  auto got = server_.recv_from(buf, 5s);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(string_of(std::span(buf).first(got->size)), "ping");
  // A Unix client was auto-bound to an abstract name, so there is someone to reply to.
  EXPECT_FALSE(got->from.is_unnamed()) << got->from.to_string();
  if (GetParam().starts_with("unix")) {
    EXPECT_TRUE(got->from.is_abstract()) << got->from.to_string();
  }
  auto client_address = client_.local_address();
  ASSERT_TRUE(client_address);
  EXPECT_EQ(got->from, *client_address);

  ASSERT_TRUE(server_.send_to(bytes_of("pong"), got->from, 5s));
  auto n = client_.recv(buf, 5s);
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(string_of(std::span(buf).first(*n)), "pong");
}

TEST_P(DatagramSocketOver, AnOpenedSocketSendsToABoundOne) {
  auto family = server_.kernel_family();
  ASSERT_TRUE(family);
  auto sender = DatagramSocket::open(server_address_.transport(), *family);
  ASSERT_TRUE(sender) << sender.error().message();
  ASSERT_TRUE(sender->send_to(bytes_of("unconnected"), server_address_, 5s));
  std::array<std::byte, 32> buf{};
  auto n = server_.recv(buf, 5s);
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(string_of(std::span(buf).first(*n)), "unconnected");
}

TEST_P(DatagramSocketOver, ADatagramLargerThanTheBufferIsTruncatedNotCut) {
  const auto big = test::random_bytes(100, 1);
  ASSERT_TRUE(client_.send(big, 5s));
  ASSERT_TRUE(client_.send("next", 5s));
  std::array<std::byte, 10> small{};
  auto r = server_.recv(small, 5s);
  ASSERT_FALSE(r) << "a 100-byte datagram came back as " << *r << " bytes";
  EXPECT_EQ(r.error(), errc::message_truncated);
  // The cut datagram is consumed; the next one is whole.
  auto n = server_.recv(small, 5s);
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(string_of(std::span(small).first(*n)), "next");
}

TEST_P(DatagramSocketOver, RecvFromReportsTruncationToo) {
  ASSERT_TRUE(client_.send("0123456789", 5s));
  std::array<std::byte, 9> small{};
  auto r = server_.recv_from(small, 5s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::message_truncated);
}

TEST_P(DatagramSocketOver, NextMessageSizePeeksWithoutConsuming) {
  const auto data = test::random_bytes(1234, 2);
  ASSERT_TRUE(client_.send(data, 5s));
  auto size = server_.next_message_size(5s);
  ASSERT_TRUE(size) << size.error().message();
  EXPECT_EQ(*size, 1234u);
  std::vector<std::byte> buf(*size);
  auto n = server_.recv(buf, 5s);
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(*n, 1234u);
  EXPECT_EQ(buf, data);
}

TEST_P(DatagramSocketOver, AZeroLengthDatagramIsLegal) {
  ASSERT_TRUE(client_.send(std::span<const std::byte>{}, 5s));
  ASSERT_TRUE(client_.send("after", 5s));
  auto size = server_.next_message_size(5s);
  ASSERT_TRUE(size) << size.error().message();
  EXPECT_EQ(*size, 0u);
  std::array<std::byte, 16> buf{};
  auto n = server_.recv(buf, 5s);
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(*n, 0u);
  n = server_.recv(buf, 5s);
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(string_of(std::span(buf).first(*n)), "after");
}

TEST_P(DatagramSocketOver, RecvTimesOutByTheDeadline) {
  std::array<std::byte, 8> buf{};
  const auto start = std::chrono::steady_clock::now();
  auto r = server_.recv(buf, 100ms);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::timed_out);
  EXPECT_GE(took, 95ms);
  EXPECT_LT(took, 2s);
}

TEST_P(DatagramSocketOver, BatchesOfSixtyFourArriveWholeAndDistinct) {
  constexpr std::size_t kCount = 64;
  std::vector<std::vector<std::byte>> payloads;
  std::vector<OutgoingDatagram> out;
  for (std::size_t i = 0; i < kCount; ++i) {
    payloads.push_back(test::random_bytes(16 + i * 8, 100 + i));  // distinct sizes and contents
  }
  for (const auto& p : payloads) out.push_back(OutgoingDatagram{p, nullptr});

  std::vector<std::vector<std::byte>> buffers(kCount, std::vector<std::byte>(2048));
  std::vector<DatagramSlot> slots(kCount);
  std::vector<std::vector<std::byte>> received;
  std::size_t sent = 0;
  // Interleave: a Unix datagram queue holds only net.unix.max_dgram_qlen (often 10)
  // messages, so a single-threaded sender must let the receiver drain it.
  for (int round = 0; received.size() < kCount && round < 1000; ++round) {
    if (sent < kCount) {
      auto n = client_.send_batch(std::span(out).subspan(sent), 5s);
      ASSERT_TRUE(n) << n.error().message();
      ASSERT_GT(*n, 0u);
      sent += *n;
    }
    for (std::size_t i = 0; i < kCount; ++i) slots[i] = DatagramSlot{buffers[i], 0, false, {}};
    auto got = server_.recv_batch(slots, 5s);
    ASSERT_TRUE(got) << got.error().message();
    ASSERT_GT(*got, 0u);
    for (std::size_t i = 0; i < *got; ++i) {
      EXPECT_FALSE(slots[i].truncated);
      received.emplace_back(buffers[i].begin(),
                            buffers[i].begin() + static_cast<std::ptrdiff_t>(slots[i].size));
    }
  }
  ASSERT_EQ(received.size(), kCount);
  // Loopback keeps order; compare one by one so a mix-up names the datagram.
  for (std::size_t i = 0; i < kCount; ++i) EXPECT_EQ(received[i], payloads[i]) << "datagram " << i;
}

TEST_P(DatagramSocketOver, RecvBatchFlagsTruncationPerSlot) {
  const auto big = test::random_bytes(100, 3);
  ASSERT_TRUE(client_.send(big, 5s));
  ASSERT_TRUE(client_.send("ok", 5s));
  std::array<std::byte, 10> first{};
  std::array<std::byte, 10> second{};
  std::array<DatagramSlot, 2> slots{};
  slots[0].buffer = first;
  slots[1].buffer = second;
  std::size_t filled = 0;
  // Both datagrams are queued before the call on loopback, but be tolerant of
  // the second arriving a moment late.
  for (int i = 0; i < 2 && filled < 2; ++i) {
    auto got = server_.recv_batch(std::span(slots).subspan(filled), 5s);
    ASSERT_TRUE(got) << got.error().message();
    filled += *got;
  }
  ASSERT_EQ(filled, 2u);
  EXPECT_TRUE(slots[0].truncated);
  EXPECT_EQ(slots[0].size, 10u);
  EXPECT_FALSE(slots[1].truncated);
  EXPECT_EQ(string_of(std::span(second).first(slots[1].size)), "ok");
}

INSTANTIATE_TEST_SUITE_P(Transports, DatagramSocketOver,
                         ::testing::Values("udp4", "udp6", "unix_path", "unix_abstract"),
                         [](const auto& p) { return p.param; });

TEST(DatagramSocket, ConnectedUdpReportsConnectionRefused) {
  Address gone;
  {
    auto probe = DatagramSocket::bind(*Address::parse("udp://127.0.0.1:0"));
    ASSERT_TRUE(probe) << probe.error().message();
    auto bound = probe->local_address();
    ASSERT_TRUE(bound);
    gone = *bound;
  }  // closed: nobody listens on that port now
  auto client = DatagramSocket::connect(gone);
  ASSERT_TRUE(client) << client.error().message();
  ASSERT_TRUE(client->send("anyone?", 5s));
  std::array<std::byte, 8> buf{};
  auto r = client->recv(buf, 5s);
  ASSERT_FALSE(r) << "a reply came from a closed port";
  EXPECT_EQ(r.error(), std::errc::connection_refused) << r.error().message();
}

TEST(DatagramSocket, BindAndConnectRefuseStreamAddresses) {
  auto tcp = DatagramSocket::bind(*Address::parse("tcp://127.0.0.1:0"));
  ASSERT_FALSE(tcp);
  EXPECT_EQ(tcp.error(), errc::wrong_transport);
  auto unix_stream = DatagramSocket::connect(*Address::parse("unix:@" + test::unique_abstract_name()));
  ASSERT_FALSE(unix_stream);
  EXPECT_EQ(unix_stream.error(), errc::wrong_transport);
  auto open = DatagramSocket::open(Transport::tcp);
  ASSERT_FALSE(open);
  EXPECT_EQ(open.error(), errc::wrong_transport);
}

TEST(DatagramSocket, PairCarriesDatagramsBothWays) {
  auto pair = datagram_socket_pair();
  ASSERT_TRUE(pair) << pair.error().message();
  auto& [a, b] = *pair;
  ASSERT_TRUE(a.send("from a", 5s));
  ASSERT_TRUE(b.send("from b!", 5s));
  std::array<std::byte, 16> buf{};
  auto got = b.recv_from(buf, 5s);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(string_of(std::span(buf).first(got->size)), "from a");
  EXPECT_TRUE(got->from.is_unnamed()) << got->from.to_string();
  auto n = a.recv(buf, 5s);
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(string_of(std::span(buf).first(*n)), "from b!");

  std::array<std::byte, 3> small{};
  ASSERT_TRUE(a.send("too long", 5s));
  auto cut = b.recv(small, 5s);
  ASSERT_FALSE(cut);
  EXPECT_EQ(cut.error(), errc::message_truncated);
}

}  // namespace
}  // namespace sockit

namespace sockit {
namespace {

using namespace std::chrono_literals;

TEST(DatagramBind, SharesAUdpPortOnlyWithSocketsThatAskedForIt) {
  auto first = DatagramSocket::bind(*Address::parse("udp://127.0.0.1:0"), DatagramBindOptions{.reuse_port = true});
  ASSERT_TRUE(first) << first.error().message();
  auto same_port = Address::parse("udp://127.0.0.1:" + std::to_string(first->local_address()->port()));
  ASSERT_TRUE(same_port);
  auto sharer = DatagramSocket::bind(*same_port, DatagramBindOptions{.reuse_port = true});
  EXPECT_TRUE(sharer) << sharer.error().message();
  auto intruder = DatagramSocket::bind(*same_port, DatagramBindOptions{});
  ASSERT_FALSE(intruder);
  EXPECT_EQ(intruder.error(), std::errc::address_in_use);
}

TEST(DatagramBind, RetriesAnAddressInUseForTheTimeAskedThenFails) {
  auto holder = DatagramSocket::bind(*Address::parse("udp://127.0.0.1:0"));
  ASSERT_TRUE(holder);
  auto taken = Address::parse("udp://127.0.0.1:" + std::to_string(holder->local_address()->port()));
  ASSERT_TRUE(taken);
  const auto started = std::chrono::steady_clock::now();
  auto second = DatagramSocket::bind(*taken, DatagramBindOptions{.bind_retry_for = 100ms});
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error(), std::errc::address_in_use);
  EXPECT_GE(std::chrono::steady_clock::now() - started, 100ms);
}

TEST(DatagramBind, BindsOnceTheAddressIsFreedWithinTheRetryTime) {
  auto holder = DatagramSocket::bind(*Address::parse("udp://127.0.0.1:0"));
  ASSERT_TRUE(holder);
  auto taken = Address::parse("udp://127.0.0.1:" + std::to_string(holder->local_address()->port()));
  ASSERT_TRUE(taken);
  std::thread releaser([&] {
    std::this_thread::sleep_for(50ms);
    holder->close();
  });
  auto second = DatagramSocket::bind(*taken, DatagramBindOptions{.bind_retry_for = 10s});
  releaser.join();
  EXPECT_TRUE(second) << second.error().message();
}

// -4/-6 of a datagram server: the family picks the bound address; a literal of the
// other family or a Unix address is refused, not bound anyway.
TEST(DatagramBind, AFamilyBindsThatFamilysLoopbackAndServesIt) {
  for (const int family : {AF_INET, AF_INET6}) {
    SCOPED_TRACE(family == AF_INET ? "AF_INET" : "AF_INET6");
    auto server = DatagramSocket::bind(*Address::parse("udp://:0"), {.family = family});
    ASSERT_TRUE(server) << server.error().message();
    auto local = server->local_address();
    ASSERT_TRUE(local);
    EXPECT_EQ(local->host(), family == AF_INET ? "127.0.0.1" : "::1");
    auto client = DatagramSocket::connect(*local);
    ASSERT_TRUE(client) << client.error().message();
    ASSERT_TRUE(client->send("ping"));
    std::array<std::byte, 16> buffer{};
    auto got = server->recv_from(buffer, 5s);
    ASSERT_TRUE(got) << got.error().message();
    EXPECT_EQ(string_of(std::span(buffer).first(got->size)), "ping");
  }
}

TEST(DatagramBind, AFamilyThatTheAddressCannotHaveIsRefused) {
  auto v4_as_v6 = DatagramSocket::bind(*Address::parse("udp://127.0.0.1:0"), {.family = AF_INET6});
  ASSERT_FALSE(v4_as_v6);
  EXPECT_EQ(v4_as_v6.error(), errc::no_address_of_family);
  test::TempDir dir;
  const std::string path = "unix-dgram:" + dir.file("f.sock");
  for (const std::string& text : {path, "unix-dgram:@" + test::unique_abstract_name()}) {
    SCOPED_TRACE(text);
    auto unix_with_family = DatagramSocket::bind(*Address::parse(text), {.family = AF_INET});
    ASSERT_FALSE(unix_with_family);
    EXPECT_EQ(unix_with_family.error(), errc::invalid_argument);
  }
}

}  // namespace
}  // namespace sockit
