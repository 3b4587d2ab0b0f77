// Connector over every backend: connecting to TCP and Unix servers, retrying with
// backoff until a server appears, giving up at the deadline, jitter, Fast Open,
// and cancelling by destruction.
#include "sockit/net/connector.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <functional>

#include <fstream>
#include <optional>
#include <set>

#include "sockit/sockit.hpp"
#include "support/bytes.hpp"
#include "support/fd_count.hpp"
#include "support/loop_helpers.hpp"
#include "support/temp_dir.hpp"

namespace sockit::net {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

Address parse(const std::string& text) { return *Address::parse(text); }

// A loopback TCP port that refuses connections for as long as this lives: a socket
// bound to it that never listens, so a SYN is answered with a reset
// (ECONNREFUSED), and nothing else can take the number meanwhile (a port freed
// for the test could be reused by any other process before the connect).
// listen() on `fd` turns the same port into a server.
struct RefusingTcpPort {
  Fd fd;  // invalid (and the test failed) if the socket could not be made
  Address address;
};

RefusingTcpPort refusing_tcp_port() {
  RefusingTcpPort port{Fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)), parse("tcp://127.0.0.1:0")};
  sockaddr_in loopback{};
  loopback.sin_family = AF_INET;
  loopback.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof loopback;
  if (!port.fd || ::bind(port.fd.get(), reinterpret_cast<sockaddr*>(&loopback), length) != 0 ||
      ::getsockname(port.fd.get(), reinterpret_cast<sockaddr*>(&loopback), &length) != 0) {
    ADD_FAILURE() << "a bound TCP socket: " << std::strerror(errno);
    return {};
  }
  port.address = port.address.with_port(ntohs(loopback.sin_port));
  return port;
}

// Waits up to `limit` for a connection on a listening `fd` and accepts it.
bool accepts_within(const Fd& fd, std::chrono::milliseconds limit) {
  pollfd p{fd.get(), POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(limit.count())) != 1) return false;
  return Fd(::accept4(fd.get(), nullptr, nullptr, SOCK_CLOEXEC)).valid();
}

class ConnectorOn : public test::LoopTest {
 protected:
  // Starts `c` and turns the loop until its callback ran (or `limit`).
  std::optional<Result<Fd>> run(Connector& c, std::chrono::milliseconds limit = 5s) {
    std::optional<Result<Fd>> outcome;
    c.start([&](Result<Fd> r) { outcome.emplace(std::move(r)); });
    test::run_until(
        loop(), [&] { return outcome.has_value(); }, limit);
    return outcome;
  }

  std::unique_ptr<Connector> make(const Address& address, ConnectorOptions options = {}) {
    auto c = Connector::create(loop(), address, std::move(options));
    EXPECT_TRUE(c) << c.error().message();
    return c ? std::move(*c) : nullptr;
  }

  void connects_to(const std::string& address_text) {
    auto listener = listen(parse(address_text));
    if (!listener && address_text.find("[::1]") != std::string::npos) GTEST_SKIP() << "no IPv6 loopback";
    ASSERT_TRUE(listener) << listener.error().message();
    auto c = make(*listener->local_address());
    ASSERT_TRUE(c);
    auto outcome = run(*c);
    ASSERT_TRUE(outcome.has_value()) << "no callback";
    ASSERT_TRUE(*outcome) << outcome->error().message();
    const Fd& fd = **outcome;
    EXPECT_NE(::fcntl(fd.get(), F_GETFL) & O_NONBLOCK, 0) << "the socket must be non-blocking";
    EXPECT_NE(::fcntl(fd.get(), F_GETFD) & FD_CLOEXEC, 0);
    EXPECT_EQ(c->stats().attempts, 1u);
    auto accepted = listener->accept(1s);
    ASSERT_TRUE(accepted) << accepted.error().message();
    EXPECT_TRUE(accepted->send_all(test::bytes_of("hi"), 1s));
  }
};

TEST_P(ConnectorOn, ConnectsToATcpServerOverIPv4) { connects_to("tcp://127.0.0.1:0"); }
TEST_P(ConnectorOn, ConnectsToATcpServerOverIPv6) { connects_to("tcp://[::1]:0"); }
TEST_P(ConnectorOn, ConnectsToAUnixServerAtAPath) {
  test::TempDir dir;
  connects_to("unix:" + dir.file("s"));
}
TEST_P(ConnectorOn, ConnectsToAUnixServerByAbstractName) {
  connects_to("unix:@" + test::unique_abstract_name());
}

// The server starts ~150 ms after the client (`open_server`, false if it could
// not); attempts fail (refused, or ENOENT for a Unix path) and back off until it
// is there; `accept_one` then takes the connection.
void retries_until_the_server_appears(event::EventLoop& loop, const Address& address,
                                      const std::function<bool()>& open_server,
                                      const std::function<bool()>& accept_one) {
  ConnectorOptions options;
  options.initial_backoff = 10ms;
  options.max_backoff = 40ms;
  options.total_timeout = 5s;
  auto c = Connector::create(loop, address, options);
  ASSERT_TRUE(c);
  bool server_open = false;
  auto later = loop.run_after(150ms, [&] { server_open = open_server(); });
  std::vector<std::error_code> retried_on;
  (*c)->on_retry([&](unsigned, std::error_code ec, std::chrono::nanoseconds delay) {
    retried_on.push_back(ec);
    EXPECT_LE(delay, 40ms);
  });
  std::optional<Result<Fd>> outcome;
  const auto started = Clock::now();
  (*c)->start([&](Result<Fd> r) { outcome.emplace(std::move(r)); });
  ASSERT_TRUE(test::run_until(
      loop, [&] { return outcome.has_value(); }, 5s));
  ASSERT_TRUE(*outcome) << outcome->error().message() << " / " << (*c)->failure_context();
  EXPECT_GE(Clock::now() - started, 140ms);
  EXPECT_GT((*c)->stats().attempts, 1u);
  EXPECT_EQ(retried_on.size() + 1, (*c)->stats().attempts);
  ASSERT_TRUE(server_open);
  EXPECT_TRUE(accept_one());
}

TEST_P(ConnectorOn, RetriesWithBackoffUntilATcpServerAppears) {
  // The port is held throughout: the server appears by listening on it.
  const RefusingTcpPort port = refusing_tcp_port();
  ASSERT_TRUE(port.fd);
  retries_until_the_server_appears(
      loop(), port.address, [&] { return ::listen(port.fd.get(), 16) == 0; },
      [&] { return accepts_within(port.fd, 1s); });
}

TEST_P(ConnectorOn, RetriesWithBackoffUntilAUnixServerCreatesItsPath) {
  test::TempDir dir;
  const Address address = parse("unix:" + dir.file("late"));
  std::optional<Listener> listener;
  retries_until_the_server_appears(
      loop(), address,
      [&] {
        auto l = listen(address);
        EXPECT_TRUE(l) << l.error().message();
        if (l) listener = std::move(*l);
        return l.has_value();
      },
      [&] { return listener && listener->accept(1s).has_value(); });
}

TEST_P(ConnectorOn, GivesUpAtTheTotalDeadlineWithTheLastErrorAndItsContext) {
  ConnectorOptions options;
  options.initial_backoff = 20ms;
  options.max_backoff = 60ms;
  options.total_timeout = 400ms;
  const RefusingTcpPort port = refusing_tcp_port();
  ASSERT_TRUE(port.fd);
  auto c = make(port.address, options);
  ASSERT_TRUE(c);
  const auto started = Clock::now();
  auto outcome = run(*c, 5s);
  const auto elapsed = Clock::now() - started;
  ASSERT_TRUE(outcome.has_value());
  ASSERT_FALSE(*outcome);
  EXPECT_EQ(outcome->error(), std::errc::connection_refused);
  EXPECT_GT(c->stats().attempts, 1u);
  EXPECT_LE(elapsed, 400ms + 500ms);  // never past the deadline by more than a loop turn or two
  const std::string context = c->failure_context();
  EXPECT_NE(context.find("attempts"), std::string::npos) << context;
  EXPECT_NE(context.find(std::make_error_code(std::errc::connection_refused).message()), std::string::npos)
      << context;
}

TEST_P(ConnectorOn, StopsAfterMaxAttempts) {
  ConnectorOptions options;
  options.initial_backoff = 1ms;
  options.max_attempts = 3;
  const RefusingTcpPort port = refusing_tcp_port();
  ASSERT_TRUE(port.fd);
  auto c = make(port.address, options);
  ASSERT_TRUE(c);
  auto outcome = run(*c);
  ASSERT_TRUE(outcome.has_value());
  EXPECT_FALSE(*outcome);
  EXPECT_EQ(c->stats().attempts, 3u);
}

TEST_P(ConnectorOn, DoesNotRetryAnErrorThatWouldRecur) {
  // A path through a regular file: ENOTDIR, every time.
  test::TempDir dir;
  { std::ofstream(dir.file("file")) << "not a directory"; }
  auto c = make(parse("unix:" + dir.file("file") + "/s"), {.initial_backoff = 1ms});
  ASSERT_TRUE(c);
  auto outcome = run(*c);
  ASSERT_TRUE(outcome.has_value());
  ASSERT_FALSE(*outcome);
  EXPECT_EQ(outcome->error(), std::errc::not_a_directory);
  EXPECT_EQ(c->stats().attempts, 1u);
}

TEST_P(ConnectorOn, JitterSpreadsTheDelaysOfConnectorsThatFailTogether) {
  const RefusingTcpPort port = refusing_tcp_port();
  ASSERT_TRUE(port.fd);
  const Address& target = port.address;
  ConnectorOptions options;
  options.initial_backoff = 40ms;
  options.max_backoff = 40ms;
  options.max_attempts = 2;
  std::vector<std::unique_ptr<Connector>> connectors;
  std::vector<std::chrono::nanoseconds> delays;
  int done = 0;
  for (int i = 0; i < 8; ++i) {
    connectors.push_back(make(target, options));
    ASSERT_TRUE(connectors.back());
    connectors.back()->on_retry(
        [&](unsigned, std::error_code, std::chrono::nanoseconds d) { delays.push_back(d); });
    connectors.back()->start([&](Result<Fd>) { ++done; });
  }
  ASSERT_TRUE(test::run_until(loop(), [&] { return done == 8; }));
  ASSERT_EQ(delays.size(), 8u);
  for (auto d : delays) {
    EXPECT_GE(d, 0ns);
    EXPECT_LE(d, 40ms);
  }
  const std::set<std::chrono::nanoseconds> distinct(delays.begin(), delays.end());
  EXPECT_GT(distinct.size(), 4u) << "full jitter draws each delay at random";

  // Without jitter every connector waits exactly the backoff: lockstep.
  options.jitter = false;
  auto plain = make(target, options);
  ASSERT_TRUE(plain);
  std::chrono::nanoseconds plain_delay{};
  plain->on_retry([&](unsigned, std::error_code, std::chrono::nanoseconds d) { plain_delay = d; });
  ASSERT_TRUE(run(*plain).has_value());
  EXPECT_EQ(plain_delay, 40ms);
}

int tcp_fastopen_sysctl() {
  std::ifstream in("/proc/sys/net/ipv4/tcp_fastopen");
  int value = -1;
  in >> value;
  return value;
}

TEST_P(ConnectorOn, FastOpenDeliversTheInitialDataWhetherOrNotItRodeTheSyn) {
  const int sysctl = tcp_fastopen_sysctl();
  if (sysctl < 0 || (sysctl & 1) == 0) {
    GTEST_SKIP() << "net.ipv4.tcp_fastopen=" << sysctl << " forbids client Fast Open";
  }
  auto listener = listen(parse("tcp://127.0.0.1:0"), {.fast_open_queue = 16});
  ASSERT_TRUE(listener) << listener.error().message();
  // The first connection fetches a cookie (if the server side is enabled: bit 2 of
  // the sysctl); the second can then carry its data in the SYN. Either way, the data
  // must arrive whole before the connector reports success.
  for (int round = 0; round < 2; ++round) {
    ConnectorOptions options;
    options.fast_open = true;
    options.no_delay = true;
    options.fast_open_data = "GET / with the SYN, round " + std::to_string(round);
    auto c = make(*listener->local_address(), options);
    ASSERT_TRUE(c);
    auto outcome = run(*c);
    ASSERT_TRUE(outcome.has_value());
    ASSERT_TRUE(*outcome) << outcome->error().message();
    auto server = listener->accept(1s);
    ASSERT_TRUE(server);
    std::vector<std::byte> got(options.fast_open_data.size());
    ASSERT_TRUE(server->recv_exact(got, 1s));
    EXPECT_EQ(test::string_of(got), options.fast_open_data);
    if (round == 1 && (sysctl & 2) != 0) {
      auto info = tcp_option::info((**outcome).get());
      if (info) RecordProperty("fast_open_used", info->fast_open_used ? "yes" : "no");
    }
  }
}

TEST_P(ConnectorOn, DestroyingAConnectorThatIsBackingOffRunsNoCallback) {
  const RefusingTcpPort port = refusing_tcp_port();  // before the count: it stays open
  ASSERT_TRUE(port.fd);
  const int fds_before = test::open_fd_count();
  ConnectorOptions options;
  options.initial_backoff = 10s;
  options.jitter = false;
  auto c = make(port.address, options);
  ASSERT_TRUE(c);
  bool called = false;
  c->start([&](Result<Fd>) { called = true; });
  ASSERT_TRUE(test::run_until(loop(), [&] { return c->stats().last_error.operator bool(); }));
  c.reset();
  test::run_for(loop(), 30ms);
  EXPECT_FALSE(called);
  EXPECT_EQ(test::open_fd_count(), fds_before);
}

TEST_P(ConnectorOn, DestroyingAConnectorMidHandshakeRunsNoCallbackAndClosesItsSocket) {
  // A listener with a full accept queue drops SYNs: a connect to it stays pending.
  auto listener = listen(parse("tcp://127.0.0.1:0"), {.backlog = 1});
  ASSERT_TRUE(listener);
  const Address target = *listener->local_address();
  std::vector<StreamSocket> fillers;
  for (int i = 0; i < 16; ++i) {
    auto s = connect(target, 200ms);
    if (!s) break;
    fillers.push_back(std::move(*s));
  }
  ASSERT_LT(fillers.size(), 16u) << "the accept queue never filled";
  const int fds_before = test::open_fd_count();
  auto c = make(target, {.attempt_timeout = 10s});
  ASSERT_TRUE(c);
  bool called = false;
  c->start([&](Result<Fd>) { called = true; });
  test::run_for(loop(), 100ms);
  ASSERT_FALSE(called) << "the connect was expected to stay pending";
  EXPECT_EQ(c->stats().attempts, 1u);
  EXPECT_EQ(test::open_fd_count(), fds_before + 1);  // the attempt's socket
  c.reset();
  test::run_for(loop(), 30ms);
  EXPECT_FALSE(called);
  EXPECT_EQ(test::open_fd_count(), fds_before);
}

TEST_P(ConnectorOn, TheCallbackMayDestroyTheConnector) {
  auto listener = listen(parse("unix:@" + test::unique_abstract_name()));
  ASSERT_TRUE(listener);
  auto c = make(*listener->local_address());
  ASSERT_TRUE(c);
  bool connected = false;
  c->start([&](Result<Fd> r) {
    connected = r.has_value();
    c.reset();
  });
  ASSERT_TRUE(test::run_until(loop(), [&] { return c == nullptr; }));
  EXPECT_TRUE(connected);
}

TEST_P(ConnectorOn, TheOutcomeWrapsIntoAConnection) {
  auto listener = listen(parse("tcp://127.0.0.1:0"));
  ASSERT_TRUE(listener);
  auto c = make(*listener->local_address(), {.no_delay = true});
  ASSERT_TRUE(c);
  std::shared_ptr<Connection> connection;
  c->start([&](Result<Fd> r) {
    auto made = make_connection(loop(), std::move(r));
    ASSERT_TRUE(made) << made.error().message();
    connection = *made;
    connection->start();
    ASSERT_TRUE(connection->send("hello"));
  });
  ASSERT_TRUE(test::run_until(loop(), [&] { return connection && connection->queued_output() == 0; }));
  auto server = listener->accept(1s);
  ASSERT_TRUE(server);
  std::vector<std::byte> got(5);
  ASSERT_TRUE(server->recv_exact(got, 1s));
  EXPECT_EQ(test::string_of(got), "hello");
  connection->abort();
}

TEST_P(ConnectorOn, ADatagramAddressIsRefused) {
  auto c = Connector::create(loop(), parse("udp://127.0.0.1:9"));
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error(), errc::wrong_transport);
}

INSTANTIATE_TEST_SUITE_P(Backends, ConnectorOn, ::testing::ValuesIn(test::backends_under_test()),
                         test::backend_param_name);

}  // namespace
}  // namespace sockit::net
