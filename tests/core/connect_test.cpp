// connect(): refusals, deadlines, name resolution, TCP Fast Open.
#include "sockit/connect.hpp"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <vector>

#include "sockit/sockit.hpp"
#include "support/bytes.hpp"
#include "support/temp_dir.hpp"

namespace sockit {
namespace {

using namespace std::chrono_literals;

Address parse(const std::string& text) {
  auto a = Address::parse(text);
  EXPECT_TRUE(a) << text;
  return *a;
}

// A TCP port on loopback with nobody listening (bound then closed).
std::uint16_t closed_tcp_port() {
  auto l = listen(parse("tcp://127.0.0.1:0"));
  EXPECT_TRUE(l);
  return l->local_address()->port();
}

TEST(Connect, ATcpPortWithNoListenerIsRefused) {
  auto r = connect(parse("tcp://127.0.0.1:" + std::to_string(closed_tcp_port())), 5s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), std::errc::connection_refused);
}

TEST(Connect, AMissingUnixPathSaysSo) {
  test::TempDir dir;
  auto r = connect(parse("unix:" + dir.file("nobody.sock")), 5s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), std::errc::no_such_file_or_directory);
}

TEST(Connect, DatagramAddressesAreTheWrongTransport) {
  auto r = connect(parse("udp://127.0.0.1:9"), 1s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::wrong_transport);
}

TEST(Connect, AHostNameTriesEveryAddressInOrder) {
  // "localhost" may resolve to ::1 first; with only an IPv4 listener that attempt
  // is refused and the next address must be tried.
  auto listener = listen(parse("tcp://127.0.0.1:0"));
  ASSERT_TRUE(listener);
  const auto port = listener->local_address()->port();
  auto client = connect(parse("tcp://localhost:" + std::to_string(port)), 5s);
  ASSERT_TRUE(client) << client.error().message();
  auto server = listener->accept(5s);
  ASSERT_TRUE(server);
}

TEST(Connect, ANameThatDoesNotResolveIsReported) {
  auto r = connect(parse("tcp://no-such-host.invalid:80"), 5s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::name_not_resolved);
}

// Fills a listener's accept queue (nobody accepts) until a connect cannot finish.
template <typename Attempt>
std::vector<StreamSocket> fill_backlog(Attempt attempt) {
  std::vector<StreamSocket> held;
  for (int i = 0; i < 64; ++i) {
    auto c = attempt();
    if (!c) break;
    held.push_back(std::move(*c));
  }
  return held;
}

TEST(Connect, TcpConnectStopsAtTheDeadlineWhenTheServerDoesNotAnswer) {
  ListenOptions options;
  options.backlog = 1;
  auto listener = listen(parse("tcp://127.0.0.1:0"), options);
  ASSERT_TRUE(listener);
  const Address target = *listener->local_address();
  auto held = fill_backlog([&] { return connect(target, 300ms); });
  ASSERT_LT(held.size(), 64u) << "the accept queue never filled";
  const auto start = std::chrono::steady_clock::now();
  auto r = connect(target, 150ms);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::timed_out);
  EXPECT_GE(took, 145ms);
  EXPECT_LT(took, 2s);
}

TEST(Connect, UnixConnectWaitsForRoomInTheBacklogUntilTheDeadline) {
  ListenOptions options;
  options.backlog = 1;
  const Address target = parse("unix:@" + test::unique_abstract_name());
  auto listener = listen(target, options);
  ASSERT_TRUE(listener);
  auto held = fill_backlog([&] { return connect(target, 50ms); });
  ASSERT_LT(held.size(), 64u);
  auto r = connect(target, 100ms);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::timed_out);
  // Once the server accepts, there is room again.
  auto accepted = listener->accept(1s);
  ASSERT_TRUE(accepted);
  auto later = connect(target, 2s);
  EXPECT_TRUE(later) << later.error().message();
}

TEST(Connect, FastOpenDataArrivesWhetherOrNotItRodeTheSyn) {
  ListenOptions options;
  options.fast_open_queue = 16;
  auto listener = listen(parse("tcp://127.0.0.1:0"), options);
  ASSERT_TRUE(listener) << listener.error().message();
  const Address target = *listener->local_address();
  // The first connection fetches a cookie; the second may carry data in its SYN
  // (only if net.ipv4.tcp_fastopen enables the server side; either way, nothing is lost).
  for (int round = 0; round < 2; ++round) {
    ConnectOptions connect_options;
    connect_options.fast_open_data = "hello with the SYN #" + std::to_string(round);
    auto client = connect(target, 5s, connect_options);
    ASSERT_TRUE(client) << client.error().message();
    auto server = listener->accept(5s);
    ASSERT_TRUE(server);
    std::vector<std::byte> got(connect_options.fast_open_data.size());
    ASSERT_TRUE(server->recv_exact(got, 5s));
    EXPECT_EQ(test::string_of(got), connect_options.fast_open_data);
  }
}

TEST(Connect, NoDelayIsSetBeforeConnecting) {
  auto listener = listen(parse("tcp://127.0.0.1:0"));
  ASSERT_TRUE(listener);
  ConnectOptions options;
  options.no_delay = true;
  auto client = connect(*listener->local_address(), 5s, options);
  ASSERT_TRUE(client);
  auto on = client->no_delay();
  ASSERT_TRUE(on);
  EXPECT_TRUE(*on);
  auto blocking = client->non_blocking();
  ASSERT_TRUE(blocking);
  EXPECT_FALSE(*blocking) << "connect returns a blocking socket";
}


// 127.0.0.2 is loopback too (all of 127/8 is), so the source can differ from the
// server's address on any Linux machine.
TEST(Connect, ALocalAddressIsTheSourceTheServerSees) {
  auto listener = listen(parse("tcp://127.0.0.1:0"));
  ASSERT_TRUE(listener);
  ConnectOptions options;
  options.local_address = parse("tcp://127.0.0.2:0");
  auto client = connect(*listener->local_address(), 5s, options);
  ASSERT_TRUE(client) << client.error().message();
  auto server = listener->accept(5s);
  ASSERT_TRUE(server);
  auto peer = server->peer_address();
  ASSERT_TRUE(peer);
  EXPECT_EQ(peer->host(), "127.0.0.2");
  EXPECT_EQ(peer->port(), client->local_address()->port());
}

TEST(Connect, AFamilyWithNoAddressOfTheServerIsReported) {
  auto listener = listen(parse("tcp://127.0.0.1:0"));
  ASSERT_TRUE(listener);
  ConnectOptions options;
  options.family = AF_INET6;
  auto client = connect(*listener->local_address(), 5s, options);
  ASSERT_FALSE(client);
  EXPECT_EQ(client.error(), errc::no_address_of_family);

  options.family = AF_INET;
  EXPECT_TRUE(connect(*listener->local_address(), 5s, options));
}

TEST(Connect, ALocalAddressOfTheOtherFamilyIsReported) {
  auto listener = listen(parse("tcp://127.0.0.1:0"));
  ASSERT_TRUE(listener);
  ConnectOptions options;
  options.local_address = parse("tcp://[::1]:0");
  auto client = connect(*listener->local_address(), 5s, options);
  ASSERT_FALSE(client);
  EXPECT_EQ(client.error(), errc::no_address_of_family);
}

TEST(Connect, SourceOptionsOnAUnixAddressAreInvalid) {
  test::TempDir dir;
  auto listener = listen(parse("unix:" + dir.file("s.sock")));
  ASSERT_TRUE(listener);
  ConnectOptions with_family;
  with_family.family = AF_INET;
  auto a = connect(parse("unix:" + dir.file("s.sock")), 5s, with_family);
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error(), errc::invalid_argument);
  ConnectOptions with_local;
  with_local.local_address = parse("unix:" + dir.file("c.sock"));
  auto b = connect(parse("unix:" + dir.file("s.sock")), 5s, with_local);
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error(), errc::invalid_argument);
}

TEST(Connect, AUdpClientSendsFromItsLocalAddress) {
  auto server = DatagramSocket::bind(parse("udp://127.0.0.1:0"));
  ASSERT_TRUE(server);
  ConnectOptions options;
  options.local_address = parse("udp://127.0.0.2:0");
  auto client = DatagramSocket::connect(*server->local_address(), options);
  ASSERT_TRUE(client) << client.error().message();
  ASSERT_TRUE(client->send(std::string_view("hi")));
  std::array<std::byte, 16> buffer{};
  auto got = server->recv_from(buffer, 5s);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->from.host(), "127.0.0.2");

  ConnectOptions tcp_only;
  tcp_only.no_delay = true;
  auto refused = DatagramSocket::connect(*server->local_address(), tcp_only);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), errc::invalid_argument);
}

}  // namespace
}  // namespace sockit
