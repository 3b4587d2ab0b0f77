// Typed socket options: each setter is checked through its getter (what the kernel
// reports), and the options that change behaviour are checked by that behaviour.
#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <optional>
#include <string_view>

#include "sockit/sockit.hpp"
#include "support/connected.hpp"

namespace sockit {
namespace {

using namespace std::chrono_literals;
using std::chrono::microseconds;

std::error_code system_error(int err) { return {err, std::system_category()}; }

// The value of a Result that must have succeeded (gtest cannot print an expected).
// On failure the test is already marked failed; T{} only lets the comparison run.
template <typename T>
T value_of(const Result<T>& r) {
  EXPECT_TRUE(r) << r.error().message();
  return r ? *r : T{};
}

DatagramSocket open_udp(int family = AF_INET) {
  auto s = DatagramSocket::open(Transport::udp, family);
  EXPECT_TRUE(s) << s.error().message();
  return s ? std::move(*s) : DatagramSocket();
}

constexpr const char* kLoopbackTcp = "tcp://127.0.0.1:0";

// --- Socket ----------------------------------------------------------------------

TEST(SocketOptions, ReuseAddressRoundTrips) {
  auto s = open_udp();
  ASSERT_TRUE(s.set_reuse_address(true));
  EXPECT_EQ(value_of(s.reuse_address()), true);
  ASSERT_TRUE(s.set_reuse_address(false));
  EXPECT_EQ(value_of(s.reuse_address()), false);
}

TEST(SocketOptions, ReusePortRoundTrips) {
  auto s = open_udp();
  ASSERT_TRUE(s.set_reuse_port(true));
  EXPECT_EQ(value_of(s.reuse_port()), true);
  ASSERT_TRUE(s.set_reuse_port(false));
  EXPECT_EQ(value_of(s.reuse_port()), false);
}

// 65536 is well inside the default net.core.rmem_max/wmem_max, so no clamping.
TEST(SocketOptions, ReceiveBufferSizeReportsTheKernelsDoubledValue) {
  auto s = open_udp();
  ASSERT_TRUE(s.set_receive_buffer_size(65536));
  EXPECT_EQ(value_of(s.receive_buffer_size()), 2 * 65536);
}

TEST(SocketOptions, SendBufferSizeReportsTheKernelsDoubledValue) {
  auto s = open_udp();
  ASSERT_TRUE(s.set_send_buffer_size(65536));
  EXPECT_EQ(value_of(s.send_buffer_size()), 2 * 65536);
}

TEST(SocketOptions, ReceiveLowWaterRoundTrips) {
  auto s = open_udp();
  ASSERT_TRUE(s.set_receive_low_water(100));
  EXPECT_EQ(value_of(s.receive_low_water()), 100);
}

TEST(SocketOptions, SendLowWaterCannotBeChangedOnLinux) {
  auto s = open_udp();
  auto set = s.set_send_low_water(100);
  ASSERT_FALSE(set);
  EXPECT_EQ(set.error(), system_error(ENOPROTOOPT));
  EXPECT_EQ(value_of(s.send_low_water()), 1);
}

// The kernel keeps these timeouts in jiffies, so a value that is not a whole number
// of ticks comes back rounded; whole seconds and zero are exact.
TEST(SocketOptions, ReceiveTimeoutRoundTrips) {
  auto s = open_udp();
  EXPECT_EQ(value_of(s.receive_timeout()), microseconds(0));
  ASSERT_TRUE(s.set_receive_timeout(3s));
  EXPECT_EQ(value_of(s.receive_timeout()), microseconds(3s));
  ASSERT_TRUE(s.set_receive_timeout(1250ms));
  auto got = s.receive_timeout();
  ASSERT_TRUE(got);
  EXPECT_NEAR(static_cast<double>(got->count()), 1250000.0, 10000.0);
  ASSERT_TRUE(s.set_receive_timeout(0us));
  EXPECT_EQ(value_of(s.receive_timeout()), microseconds(0));
}

TEST(SocketOptions, SendTimeoutRoundTrips) {
  auto s = open_udp();
  ASSERT_TRUE(s.set_send_timeout(2s));
  EXPECT_EQ(value_of(s.send_timeout()), microseconds(2s));
  ASSERT_TRUE(s.set_send_timeout(0us));
  EXPECT_EQ(value_of(s.send_timeout()), microseconds(0));
}

TEST(SocketOptions, NegativeTimeoutIsRefused) {
  auto s = open_udp();
  auto set = s.set_receive_timeout(-1s);
  ASSERT_FALSE(set);
  EXPECT_EQ(set.error(), make_error_code(errc::invalid_argument));
}

TEST(SocketOptions, LingerRoundTrips) {
  auto s = open_udp();
  EXPECT_EQ(value_of(s.linger()), std::nullopt);
  ASSERT_TRUE(s.set_linger(5s));
  EXPECT_EQ(value_of(s.linger()), std::optional(5s));
  ASSERT_TRUE(s.set_linger(0s));
  EXPECT_EQ(value_of(s.linger()), std::optional(0s));
  ASSERT_TRUE(s.set_linger(std::nullopt));
  EXPECT_EQ(value_of(s.linger()), std::nullopt);
}

TEST(SocketOptions, LingerZeroMakesCloseAbortive) {
  auto pair = test::connected_pair(kLoopbackTcp);
  ASSERT_TRUE(pair.server.set_linger(0s));
  pair.server.close();
  std::array<std::byte, 16> buffer{};
  auto got = pair.client.recv_some(buffer, 5s);
  ASSERT_FALSE(got) << "recv returned " << *got << " instead of failing (a FIN, not a RST?)";
  EXPECT_EQ(got.error(), system_error(ECONNRESET)) << got.error().message();
}

TEST(SocketOptions, NonBlockingRoundTrips) {
  auto s = open_udp();
  EXPECT_EQ(value_of(s.non_blocking()), false);
  ASSERT_TRUE(s.set_non_blocking(true));
  EXPECT_EQ(value_of(s.non_blocking()), true);
  ASSERT_TRUE(s.set_non_blocking(false));
  EXPECT_EQ(value_of(s.non_blocking()), false);
}

TEST(SocketOptions, V6OnlyRoundTripsOnAnIPv6Socket) {
  auto opened = DatagramSocket::open(Transport::udp, AF_INET6);
  if (!opened && opened.error() == system_error(EAFNOSUPPORT)) GTEST_SKIP() << "no IPv6 on this machine";
  ASSERT_TRUE(opened) << opened.error().message();
  ASSERT_TRUE(opened->set_v6_only(true));
  EXPECT_EQ(value_of(opened->v6_only()), true);
  ASSERT_TRUE(opened->set_v6_only(false));
  EXPECT_EQ(value_of(opened->v6_only()), false);
}

TEST(SocketOptions, V6OnlyOnAnIPv4SocketIsAnError) {
  auto s = open_udp(AF_INET);
  EXPECT_FALSE(s.set_v6_only(true));
  EXPECT_FALSE(s.v6_only());
}

TEST(SocketOptions, PendingErrorIsEmptyOnAFreshSocket) {
  auto s = open_udp();
  auto err = s.pending_error();
  ASSERT_TRUE(err) << err.error().message();
  EXPECT_FALSE(*err) << err->message();
}

// A connected UDP socket hears the ICMP port-unreachable as a pending ECONNREFUSED.
TEST(SocketOptions, PendingErrorReportsARefusedDatagramAndClearsIt) {
  auto probe = DatagramSocket::bind(*Address::parse("udp://127.0.0.1:0"));
  ASSERT_TRUE(probe) << probe.error().message();
  auto closed_port = probe->local_address();
  ASSERT_TRUE(closed_port);
  probe->close();
  auto s = DatagramSocket::connect(*closed_port);
  ASSERT_TRUE(s) << s.error().message();
  ASSERT_TRUE(s->send(std::string_view("x")));
  pollfd p{s->native_handle(), 0, 0};
  ASSERT_EQ(::poll(&p, 1, 5000), 1) << "no ICMP error arrived";
  ASSERT_TRUE(p.revents & POLLERR);
  EXPECT_EQ(value_of(s->pending_error()), system_error(ECONNREFUSED));
  EXPECT_EQ(value_of(s->pending_error()), std::error_code());
}

TEST(SocketOptions, PassCredentialsCanBeTurnedOnAndOff) {
  auto pair = datagram_socket_pair();
  ASSERT_TRUE(pair);
  const int fd = pair->first.native_handle();
  auto raw = [fd] {
    int v = -1;
    socklen_t n = sizeof v;
    EXPECT_EQ(::getsockopt(fd, SOL_SOCKET, SO_PASSCRED, &v, &n), 0);
    return v;
  };
  ASSERT_TRUE(pair->first.set_pass_credentials(true));
  EXPECT_EQ(raw(), 1);
  ASSERT_TRUE(pair->first.set_pass_credentials(false));
  EXPECT_EQ(raw(), 0);
}

TEST(SocketOptions, KernelTypeAndFamilyAreReported) {
  auto udp = open_udp();
  EXPECT_EQ(value_of(udp.kernel_socket_type()), SOCK_DGRAM);
  EXPECT_EQ(value_of(udp.kernel_family()), AF_INET);
  auto pair = stream_socket_pair();
  ASSERT_TRUE(pair);
  EXPECT_EQ(value_of(pair->first.kernel_socket_type()), SOCK_STREAM);
  EXPECT_EQ(value_of(pair->first.kernel_family()), AF_UNIX);
}

// --- TCP -------------------------------------------------------------------------

TEST(TcpOptions, NoDelayRoundTrips) {
  auto pair = test::connected_pair(kLoopbackTcp);
  ASSERT_TRUE(pair.client.set_no_delay(true));
  EXPECT_EQ(value_of(pair.client.no_delay()), true);
  ASSERT_TRUE(pair.client.set_no_delay(false));
  EXPECT_EQ(value_of(pair.client.no_delay()), false);
}

TEST(TcpOptions, TcpOptionsOnAUnixSocketAreErrors) {
  auto pair = stream_socket_pair();
  ASSERT_TRUE(pair);
  auto& s = pair->first;
  EXPECT_FALSE(s.set_no_delay(true));
  EXPECT_FALSE(s.no_delay());
  EXPECT_FALSE(s.set_keepalive({.enabled = true}));
  EXPECT_FALSE(s.keepalive());
  EXPECT_FALSE(s.set_user_timeout(1000ms));
  EXPECT_FALSE(s.tcp_info());
}

TEST(TcpOptions, KeepaliveRoundTrips) {
  auto pair = test::connected_pair(kLoopbackTcp);
  const Keepalive wanted{.enabled = true, .idle = 30s, .interval = 5s, .count = 4};
  ASSERT_TRUE(pair.client.set_keepalive(wanted));
  auto got = pair.client.keepalive();
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_TRUE(got->enabled);
  EXPECT_EQ(got->idle, 30s);
  EXPECT_EQ(got->interval, 5s);
  EXPECT_EQ(got->count, 4);
  ASSERT_TRUE(pair.client.set_keepalive({.enabled = false}));
  EXPECT_FALSE(pair.client.keepalive()->enabled);
}

TEST(TcpOptions, KeepaliveZeroTimersKeepTheKernelDefaults) {
  auto pair = test::connected_pair(kLoopbackTcp);
  auto before = pair.client.keepalive();
  ASSERT_TRUE(before) << before.error().message();
  ASSERT_TRUE(pair.client.set_keepalive({.enabled = true}));
  auto after = pair.client.keepalive();
  ASSERT_TRUE(after);
  EXPECT_TRUE(after->enabled);
  EXPECT_EQ(after->idle, before->idle);
  EXPECT_EQ(after->interval, before->interval);
  EXPECT_EQ(after->count, before->count);
}

TEST(TcpOptions, UserTimeoutRoundTrips) {
  auto pair = test::connected_pair(kLoopbackTcp);
  ASSERT_TRUE(pair.client.set_user_timeout(2500ms));
  EXPECT_EQ(value_of(pair.client.user_timeout()), 2500ms);
}

TEST(TcpOptions, FastOpenQueueLengthRoundTripsOnAListener) {
  auto listener = listen(*Address::parse(kLoopbackTcp));
  ASSERT_TRUE(listener) << listener.error().message();
  ASSERT_TRUE(listener->set_fast_open(5));
  EXPECT_EQ(value_of(listener->fast_open()), 5);
}

TEST(TcpOptions, QuickAckRoundTrips) {
  auto pair = test::connected_pair(kLoopbackTcp);
  ASSERT_TRUE(pair.client.set_quick_ack(false));
  EXPECT_EQ(value_of(pair.client.quick_ack()), false);
  ASSERT_TRUE(pair.client.set_quick_ack(true));
  EXPECT_EQ(value_of(pair.client.quick_ack()), true);
}

TEST(TcpOptions, InfoReportsAnEstablishedConnection) {
  auto pair = test::connected_pair(kLoopbackTcp);
  auto info = pair.client.tcp_info();
  ASSERT_TRUE(info) << info.error().message();
  EXPECT_EQ(info->state, TCP_ESTABLISHED);
  EXPECT_GT(info->mss, 0u);
  EXPECT_GT(info->congestion_window, 0u);
  EXPECT_FALSE(info->fast_open_used);
}

// --- UDP -------------------------------------------------------------------------

TEST(DatagramOptions, BroadcastRoundTrips) {
  auto s = open_udp();
  EXPECT_EQ(value_of(s.broadcast()), false);
  ASSERT_TRUE(s.set_broadcast(true));
  EXPECT_EQ(value_of(s.broadcast()), true);
}

TEST(DatagramOptions, MulticastTtlRoundTripsOnIPv4AndIPv6) {
  auto v4 = open_udp(AF_INET);
  ASSERT_TRUE(v4.set_multicast_ttl(7));
  EXPECT_EQ(value_of(v4.multicast_ttl()), 7);
  auto v6 = DatagramSocket::open(Transport::udp, AF_INET6);
  if (!v6 && v6.error() == system_error(EAFNOSUPPORT)) GTEST_SKIP() << "no IPv6 on this machine";
  ASSERT_TRUE(v6) << v6.error().message();
  ASSERT_TRUE(v6->set_multicast_ttl(9));
  EXPECT_EQ(value_of(v6->multicast_ttl()), 9);
}

TEST(DatagramOptions, MulticastLoopbackRoundTrips) {
  auto s = open_udp();
  EXPECT_EQ(value_of(s.multicast_loopback()), true);  // the kernel's default
  ASSERT_TRUE(s.set_multicast_loopback(false));
  EXPECT_EQ(value_of(s.multicast_loopback()), false);
  ASSERT_TRUE(s.set_multicast_loopback(true));
  EXPECT_EQ(value_of(s.multicast_loopback()), true);
}

// Leaving twice proves the join took: the second leave finds no membership.
TEST(DatagramOptions, JoinAndLeaveAMulticastGroupOnLoopback) {
  const unsigned lo = ::if_nametoindex("lo");
  if (lo == 0) GTEST_SKIP() << "no loopback interface named lo";
  auto s = open_udp();
  auto joined = s.join_multicast("239.255.42.1", lo);
  if (!joined && joined.error() == system_error(ENODEV)) {
    GTEST_SKIP() << "the kernel refuses multicast on lo here: " << joined.error().message();
  }
  ASSERT_TRUE(joined) << joined.error().message();
  ASSERT_TRUE(s.leave_multicast("239.255.42.1", lo));
  auto again = s.leave_multicast("239.255.42.1", lo);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), system_error(EADDRNOTAVAIL)) << again.error().message();
}

TEST(DatagramOptions, JoinAnIPv6GroupOnLoopback) {
  const unsigned lo = ::if_nametoindex("lo");
  if (lo == 0) GTEST_SKIP() << "no loopback interface named lo";
  auto s = DatagramSocket::open(Transport::udp, AF_INET6);
  if (!s && s.error() == system_error(EAFNOSUPPORT)) GTEST_SKIP() << "no IPv6 on this machine";
  ASSERT_TRUE(s) << s.error().message();
  auto joined = s->join_multicast("ff15::4242", lo);
  if (!joined && joined.error() == system_error(ENODEV)) {
    GTEST_SKIP() << "the kernel refuses IPv6 multicast on lo here: " << joined.error().message();
  }
  ASSERT_TRUE(joined) << joined.error().message();
  EXPECT_TRUE(s->leave_multicast("ff15::4242", lo));
}

TEST(DatagramOptions, AnUnparsableGroupIsAddressBadHost) {
  auto s = open_udp();
  const auto bad_host = make_error_code(errc::address_bad_host);
  for (std::string_view group : {std::string_view("not-an-address"), std::string_view(""),
                                 std::string_view("239.1.1.1\0junk", 14), std::string_view("239.1.1")}) {
    auto joined = s.join_multicast(group);
    ASSERT_FALSE(joined) << "accepted \"" << group << "\"";
    EXPECT_EQ(joined.error(), bad_host) << joined.error().message();
    EXPECT_EQ(s.leave_multicast(group).error(), bad_host);
  }
}

TEST(DatagramOptions, MulticastOptionsOnAUnixSocketAreErrors) {
  auto pair = datagram_socket_pair();
  ASSERT_TRUE(pair);
  EXPECT_FALSE(pair->first.set_multicast_ttl(3));
  EXPECT_FALSE(pair->first.join_multicast("239.255.42.1"));
}

}  // namespace
}  // namespace sockit
