// -4/-6 on the commands that bind (listen, echo, relay's FROM) and on relay's TO:
// the line "listening on" names the address really bound, a client of that family
// is served, and flags that cannot apply are usage errors.
//
// "localhost" has an IPv6 address on some machines and not on others (its hosts
// file decides); the tests that use it ask the library what it resolves to and
// expect the bind, or the "no address of the requested family" error, accordingly.
// An empty host is the requested family's loopback on every machine, so the IPv6
// paths are always exercised through "tcp://:0" / "udp://:0".
#include <gtest/gtest.h>

#include <algorithm>

#include "cli_harness.hpp"
#include "sockit/address.hpp"
#include "support/temp_dir.hpp"

namespace sockit::test::cli {
namespace {

// Whether `address` (a name) has an address of `family` on this machine.
bool has_family(const std::string& address, int family) {
  auto endpoints = Address::parse(address)->resolve();
  EXPECT_TRUE(endpoints) << address;
  return endpoints && std::any_of(endpoints->begin(), endpoints->end(),
                                  [&](const Endpoint& e) { return e.family() == family; });
}

// The host:port part's host as "listening on" prints it: "127.0.0.1" or "[::1]".
std::string bound_host(const std::string& listening) {
  const auto start = listening.find("://") + 3;
  return listening.substr(start, listening.rfind(':') - start);
}

// One line through a stream echo at `address`, by a sockit client.
void expect_stream_echo(const std::string& address) {
  const Outcome client = run_sockit({"connect", address}, "over the chosen family\n");
  EXPECT_EQ(client.exit.code, 0) << client.exit << "\n" << client.err;
  EXPECT_EQ(client.out, "over the chosen family\n");
}

// One datagram through a datagram echo at `address`; a missing reply is exit 1.
void expect_datagram_echo(const std::string& address) {
  const Outcome client = run_sockit({"connect", address, "--wait", "1", "--expect-replies"}, "ping\n");
  EXPECT_EQ(client.exit.code, 0) << client.exit << "\n" << client.err;
  EXPECT_EQ(client.out, "ping\n");
}

// One message through whatever echoes at `address`, stream or datagram.
void expect_echo_at(const std::string& address) {
  if (address.starts_with("udp://")) {
    expect_datagram_echo(address);
  } else {
    expect_stream_echo(address);
  }
}

// Starts `sockit relay ARGS...`, checks the host it bound, sends one message through
// it to an echo behind it, and stops it.
void expect_relay_serves(std::vector<std::string> args, const std::string& host) {
  args.insert(args.begin(), {sockit_bin(), "relay"});
  Process relay(std::move(args));
  const std::string bound = relay.listening_address().value_or("");
  ASSERT_FALSE(bound.empty()) << relay.err();
  EXPECT_EQ(bound_host(bound), host);
  expect_echo_at(bound);
  relay.signal(SIGINT);
  EXPECT_EQ(relay.finish().code, 0) << relay.err();
}

TEST(CliFamily, EchoBindsTheLoopbackOfTheFamilyAskedForAndServesIt) {
  const struct {
    const char* flag;
    const char* address;
    const char* host;
  } cases[] = {{"-4", "tcp://:0", "127.0.0.1"},
               {"-6", "tcp://:0", "[::1]"},
               {"-4", "udp://:0", "127.0.0.1"},
               {"-6", "udp://:0", "[::1]"}};
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.flag) + " " + c.address);
    EchoServer server(c.address, {c.flag});
    ASSERT_FALSE(server.address.empty()) << server.child.err();
    EXPECT_EQ(bound_host(server.address), c.host);
    expect_echo_at(server.address);
    const Exit stopped = server.stop();
    EXPECT_EQ(stopped.code, 0) << stopped << "\n" << server.child.err();
  }
}

// localhost: -4 is 127.0.0.1 everywhere; -6 is ::1 where the hosts file says so,
// and otherwise a runtime error that says there is no such address.
TEST(CliFamily, EchoOfLocalhostBindsItsAddressOfThatFamilyOrSaysThereIsNone) {
  for (const char* scheme : {"tcp://", "udp://"}) {
    const std::string address = std::string(scheme) + "localhost:0";
    for (const int family : {AF_INET, AF_INET6}) {
      const char* flag = family == AF_INET ? "-4" : "-6";
      SCOPED_TRACE(std::string(flag) + " " + address);
      EchoServer server(address, {flag});
      if (!has_family(address, family)) {
        const Exit exit = server.child.finish();
        EXPECT_EQ(exit.code, 1) << exit << "\n" << server.child.err();
        EXPECT_EQ(server.child.err(),
                  "sockit: echo " + address + ": no address of the requested family (IPv4 or IPv6)\n");
        continue;
      }
      ASSERT_FALSE(server.address.empty()) << server.child.err();
      EXPECT_EQ(bound_host(server.address), family == AF_INET ? "127.0.0.1" : "[::1]");
      expect_echo_at(server.address);
      EXPECT_EQ(server.stop().code, 0) << server.child.err();
    }
  }
}

TEST(CliFamily, ListenBindsTheFamilyAskedForForStreamsAndDatagrams) {
  for (const std::string address : {"tcp://:0", "udp://:0"}) {
    SCOPED_TRACE(address);
    const bool datagram = address.starts_with("udp://");
    Process server({sockit_bin(), "listen", "-6", address});
    const std::string bound = server.listening_address().value_or("");
    ASSERT_FALSE(bound.empty()) << server.err();
    EXPECT_EQ(bound_host(bound), "[::1]");
    std::vector<std::string> argv = {sockit_bin(), "connect", "-6", bound};
    if (datagram) argv.insert(argv.end(), {"--wait", "0.2"});
    Process client(argv);
    client.send("six\n");
    ASSERT_TRUE(server.wait_for_out("six\n")) << server.err();
    // A stream ends when both sides' stdin has; a datagram listener when interrupted.
    server.close_stdin();
    EXPECT_EQ(client.finish().code, 0) << client.err();
    if (datagram) server.signal(SIGINT);
    EXPECT_EQ(server.finish().code, 0) << server.err();
  }
}

// A relay over IPv6 on both sides: FROM is bound to ::1, and TO, written without a
// host, is reached at ::1 too (where IPv4's 127.0.0.1 has nobody listening).
TEST(CliFamily, RelayAppliesTheFamilyToBothSides) {
  for (const char* scheme : {"tcp://", "udp://"}) {
    SCOPED_TRACE(scheme);
    EchoServer upstream(std::string(scheme) + ":0", {"-6"});
    ASSERT_FALSE(upstream.address.empty()) << upstream.child.err();
    const std::string to = std::string(scheme) + ":" + port_of(upstream.address);
    expect_relay_serves({"-6", std::string(scheme) + ":0", to}, "[::1]");
    EXPECT_EQ(upstream.stop().code, 0) << upstream.child.err();
  }
}

TEST(CliFamily, RelayWithMinus4BindsAndReachesIpv4) {
  EchoServer upstream("tcp://localhost:0", {"-4"});
  ASSERT_FALSE(upstream.address.empty()) << upstream.child.err();
  expect_relay_serves({"-4", "tcp://localhost:0", "tcp://localhost:" + port_of(upstream.address)},
                      "127.0.0.1");
  EXPECT_EQ(upstream.stop().code, 0) << upstream.child.err();
}

// TO is resolved once, at start: a name without an address of the family is a
// runtime error then (where localhost has ::1, the relay starts instead).
TEST(CliFamily, RelayReportsATargetWithNoAddressOfTheFamily) {
  Process relay({sockit_bin(), "relay", "-6", "tcp://:0", "tcp://localhost:9"});
  if (has_family("tcp://localhost:9", AF_INET6)) {
    EXPECT_EQ(bound_host(relay.listening_address().value_or("")), "[::1]") << relay.err();
    relay.signal(SIGINT);
    EXPECT_EQ(relay.finish().code, 0) << relay.err();
    return;
  }
  const Exit exit = relay.finish();
  EXPECT_EQ(exit.code, 1) << exit << "\n" << relay.err();
  EXPECT_EQ(relay.err(),
            "sockit: relay tcp://localhost:9: no address of the requested family (IPv4 or IPv6)\n");
}

TEST(CliFamily, FlagsThatCannotApplyAreUsageErrors) {
  const struct {
    std::vector<std::string> args;
    std::string message;
  } cases[] = {
      {{"echo", "-4", "tcp://[::1]:0"},
       "sockit: echo tcp://[::1]:0: -4 asks for IPv4 but ::1 is an IPv6 address (-4 chooses among the "
       "addresses of a host name)\n"},
      {{"echo", "-6", "udp://127.0.0.1:0"},
       "sockit: echo udp://127.0.0.1:0: -6 asks for IPv6 but 127.0.0.1 is an IPv4 address (-6 chooses "
       "among the addresses of a host name)\n"},
      {{"echo", "-6", "unix:@sockit-family"},
       "sockit: echo unix:@sockit-family: -6 applies to tcp:// and udp:// addresses\n"},
      {{"listen", "-4", "unix-dgram:@sockit-family"},
       "sockit: listen unix-dgram:@sockit-family: -4 applies to tcp:// and udp:// addresses\n"},
      {{"listen", "-4", "tcp://[::1]:0"},
       "sockit: listen tcp://[::1]:0: -4 asks for IPv4 but ::1 is an IPv6 address (-4 chooses among the "
       "addresses of a host name)\n"},
      {{"relay", "-4", "unix:@sockit-a", "unix:@sockit-b"},
       "sockit: relay unix:@sockit-a unix:@sockit-b: -4 applies to tcp:// and udp:// addresses\n"},
      {{"relay", "-6", "tcp://localhost:0", "tcp://127.0.0.1:80"},
       "sockit: relay tcp://localhost:0 tcp://127.0.0.1:80: -6 asks for IPv6 but 127.0.0.1 is an IPv4 "
       "address (-6 chooses among the addresses of a host name)\n"},
      {{"relay", "-4", "udp://[::1]:0", "unix-dgram:@sockit-b"},
       "sockit: relay udp://[::1]:0 unix-dgram:@sockit-b: -4 asks for IPv4 but ::1 is an IPv6 address "
       "(-4 chooses among the addresses of a host name)\n"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.args[0] + " " + c.args[1] + " " + c.args[2]);
    const Outcome run = run_sockit(c.args);
    EXPECT_EQ(run.exit.code, 2) << run.exit << "\n" << run.err;
    EXPECT_EQ(run.err, c.message);
  }
  for (const char* command : {"listen", "echo"}) {
    const Outcome both = run_sockit({command, "-4", "-6", "tcp://:0"});
    EXPECT_EQ(both.exit.code, 2) << command << ": " << both.exit << "\n" << both.err;
    EXPECT_TRUE(both.err.starts_with("sockit: ")) << both.err;
  }
}

// A Unix side next to an IP one is fine: the flags apply to the IP side.
TEST(CliFamily, RelayTakesTheFlagsWithOneUnixSide) {
  EchoServer upstream("unix:@" + unique_abstract_name());
  ASSERT_FALSE(upstream.address.empty()) << upstream.child.err();
  expect_relay_serves({"-6", "tcp://:0", upstream.address}, "[::1]");
  EXPECT_EQ(upstream.stop().code, 0) << upstream.child.err();
}

}  // namespace
}  // namespace sockit::test::cli
