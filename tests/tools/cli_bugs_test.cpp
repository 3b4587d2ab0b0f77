// Regression tests for the bugs a new user found in the CLI (issue 10, "Bugs
// found"): a second multi-threaded echo sharing a port, the privileged-port
// message, echo -v's connection lines, numeric options, select's descriptor
// limit, and the top level (--version, help, unknown commands, message style).
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "cli_harness.hpp"
#include "sockit/sockit.hpp"
#include "support/bytes.hpp"
#include "support/temp_dir.hpp"

namespace sockit::test::cli {
namespace {

// One stream client: sends `text`, reads as much back, returns it.
std::string stream_echo(const std::string& address, const std::string& text) {
  auto parsed = Address::parse(address);
  if (!parsed) return "bad address";
  auto client = connect(*parsed, 5s);
  if (!client) return "connect: " + client.error().message();
  if (!client->send_all(bytes_of(text), 5s)) return "send failed";
  std::vector<std::byte> back(text.size());
  if (auto r = client->recv_exact(back, 5s); !r) return "recv: " + r.error().message();
  return string_of(back);
}

std::string datagram_echo(const std::string& address, const std::string& text) {
  auto parsed = Address::parse(address);
  if (!parsed) return "bad address";
  auto socket = DatagramSocket::connect(*parsed);  // a new source port per client
  if (!socket) return "connect: " + socket.error().message();
  if (!socket->send(text, 5s)) return "send failed";
  std::vector<std::byte> back(text.size() + 16);
  auto got = socket->recv(back, 5s);
  if (!got) return "receive: " + got.error().message();
  back.resize(*got);
  return string_of(back);
}

// --- 1. a second multi-threaded echo must not share the port --------------------------

void expect_port_not_shared(const std::string& scheme, bool datagram) {
  EchoServer first(scheme + "127.0.0.1:0", {"--threads", "2"});
  ASSERT_FALSE(first.address.empty()) << first.child.err();
  for (const char* threads : {"2", "1", "3"}) {
    Outcome second = run_sockit({"echo", first.address, "--threads", threads});
    EXPECT_EQ(second.exit.code, 1) << threads << " threads: " << second.exit << "\n" << second.err;
    EXPECT_EQ(second.err, "sockit: echo " + first.address + ": address already in use\n") << threads;
  }
  // The first serves every client: with the port shared, about half would reach
  // the second (and go unanswered once it exited, or answered by it meanwhile).
  for (int i = 0; i < 24; ++i) {
    const std::string text = "client " + std::to_string(i);
    EXPECT_EQ(datagram ? datagram_echo(first.address, text) : stream_echo(first.address, text), text);
  }
  Exit exit = first.stop();
  EXPECT_EQ(exit.code, 0) << exit;
  const std::string counted = datagram ? "24 datagrams" : "24 connections";
  EXPECT_NE(first.child.err().find("sockit: echo stopped by SIGINT: " + counted), std::string::npos)
      << first.child.err();
  // And the kernel spread them over both threads of the first (UDP says how).
  if (datagram) {
    EXPECT_EQ(first.child.err().find("(0 + 24"), std::string::npos) << first.child.err();
  }
}

TEST(CliBugs, SecondTcpEchoWithSeveralThreadsFailsWithAddressInUse) { expect_port_not_shared("tcp://", false); }
TEST(CliBugs, SecondUdpEchoWithSeveralThreadsFailsWithAddressInUse) { expect_port_not_shared("udp://", true); }

// --- 2. privileged port as non-root -----------------------------------------------------

TEST(CliBugs, PrivilegedPortAsNonRootNamesThePortRuleNotAPath) {
  if (::geteuid() != 0 || !have_program("setpriv")) GTEST_SKIP() << "needs root and setpriv to drop to nobody";
  std::ifstream start_file("/proc/sys/net/ipv4/ip_unprivileged_port_start");
  unsigned start = 1024;
  start_file >> start;
  if (start <= 80) GTEST_SKIP() << "ip_unprivileged_port_start is " << start << ": port 80 is not privileged here";
  // The binary must be reachable by nobody (a build under a 0700 home is not).
  if (::access(sockit_bin().c_str(), X_OK) != 0) GTEST_SKIP();
  for (const std::vector<std::string>& command :
       {std::vector<std::string>{"echo", "tcp://127.0.0.1:80"}, {"echo", "udp://127.0.0.1:80"},
        {"listen", "tcp://127.0.0.1:80"}}) {
    std::vector<std::string> argv = {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sockit_bin()};
    argv.insert(argv.end(), command.begin(), command.end());
    Process child(std::move(argv));
    Exit exit = child.finish();
    if (child.err().find("setpriv:") != std::string::npos) GTEST_SKIP() << child.err();
    EXPECT_EQ(exit.code, 1) << exit << "\n" << child.err();
    EXPECT_EQ(child.err(), "sockit: " + command[0] + " " + command[1] + ": permission denied (ports below " +
                               std::to_string(start) + " need root or CAP_NET_BIND_SERVICE)\n");
  }
}

// --- 3. echo -v prints a line per connection --------------------------------------------

TEST(CliBugs, VerboseStreamEchoPrintsAcceptRefusalIdleFrameAndCloseLines) {
  TempDir dir;
  const std::string path = dir.file("v.sock");
  EchoServer server("unix:" + path, {"-v", "--max-conns", "1", "--framing", "line", "--max-frame", "4",
                                     "--idle-timeout", "0.3"});
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  const std::string me = "pid " + std::to_string(::getpid()) + " uid " + std::to_string(::getuid()) + " gid " +
                         std::to_string(::getgid());
  {
    auto quiet = connect(*Address::parse(server.address), 2s);  // sends nothing: reset when idle
    ASSERT_TRUE(quiet);
    ASSERT_TRUE(server.child.wait_for_err("sockit: connection 1 from " + me + ": accepted\n"))
        << server.child.err();
    auto refused = connect(*Address::parse(server.address), 2s);  // over --max-conns 1
    ASSERT_TRUE(refused);
    EXPECT_TRUE(server.child.wait_for_err("sockit: connection from " + me + ": refused, over --max-conns 1\n"))
        << server.child.err();
    EXPECT_TRUE(server.child.wait_for_err("sockit: connection 1 from " + me +
                                          ": reset after 0.3 s without progress (--idle-timeout), 0 bytes in, "
                                          "0 bytes out\n"))
        << server.child.err();
  }
  {
    auto big = connect(*Address::parse(server.address), 2s);
    ASSERT_TRUE(big);
    ASSERT_TRUE(big->send_all(bytes_of("toolong\n"), 2s));
    EXPECT_TRUE(server.child.wait_for_err("sockit: connection 2 from " + me +
                                          ": closed: frame too large (over --max-frame 4), 8 bytes in, "
                                          "0 bytes out\n"))
        << server.child.err();
  }
  EXPECT_EQ(stream_echo(server.address, "hi\n"), "hi\n");
  EXPECT_TRUE(server.child.wait_for_err("sockit: connection 3 from " + me +
                                        ": closed by peer, 3 bytes in, 3 bytes out\n"))
      << server.child.err();
  EXPECT_EQ(server.stop().code, 0);
  // The summary's first line counts the refusal.
  EXPECT_NE(server.child.err().find("sockit: echo stopped by SIGINT: 3 connections (1 refused), "),
            std::string::npos)
      << server.child.err();
}

TEST(CliBugs, VerboseTcpEchoNamesThePeerAddress) {
  EchoServer server("tcp://127.0.0.1:0", {"-v", "--max-conns-per-peer", "1"});
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  auto client = connect(*Address::parse(server.address), 2s);
  ASSERT_TRUE(client);
  const std::string peer = client->local_address()->to_string();
  EXPECT_TRUE(server.child.wait_for_err("sockit: connection 1 from " + peer + ": accepted\n")) << server.child.err();
  auto second = connect(*Address::parse(server.address), 2s);
  ASSERT_TRUE(second);
  const std::string peer2 = second->local_address()->to_string();
  EXPECT_TRUE(server.child.wait_for_err("sockit: connection from " + peer2 +
                                        ": refused, over --max-conns-per-peer 1\n"))
      << server.child.err();
  client->close();
  EXPECT_TRUE(server.child.wait_for_err("sockit: connection 1 from " + peer + ": closed by peer, 0 bytes in, "
                                        "0 bytes out\n"))
      << server.child.err();
  EXPECT_EQ(server.stop().code, 0);
  // The summary's first line counts refusals over every limit, not --max-conns alone.
  EXPECT_NE(server.child.err().find("sockit: echo stopped by SIGINT: 1 connection (1 refused), "), std::string::npos)
      << server.child.err();
}

TEST(CliBugs, QuietEchoPrintsNoConnectionLines) {
  EchoServer server("tcp://127.0.0.1:0");
  ASSERT_FALSE(server.address.empty());
  EXPECT_EQ(stream_echo(server.address, "x"), "x");
  EXPECT_EQ(server.stop().code, 0);
  EXPECT_EQ(server.child.err().find("accepted"), std::string::npos) << server.child.err();
}

// --- 4. every numeric option is range-checked -------------------------------------------

struct NumericCase {
  std::vector<std::string> command;  // the command and an address
  std::string option;
  std::string what;   // "a number of seconds"
  std::string range;  // "0.001 to 86400"
};

TEST(CliBugs, EveryNumericOptionRefusesWhatItCannotMean) {
  const std::vector<NumericCase> cases = {
      {{"connect", "tcp://127.0.0.1:1"}, "--timeout", "a number of seconds", "0.001 to 86400"},
      {{"connect", "udp://127.0.0.1:1"}, "--wait", "a number of seconds", "0 to 86400"},
      {{"echo", "tcp://127.0.0.1:0"}, "--max-conns", "a number of connections", "1 to 1048576"},
      {{"echo", "tcp://127.0.0.1:0"}, "--max-conns-per-peer", "a number of connections", "0 to 1048576"},
      {{"echo", "tcp://127.0.0.1:0"}, "--threads", "a number of threads", "1 to 256"},
      {{"echo", "tcp://127.0.0.1:0"}, "--idle-timeout", "a number of seconds", "0 to 31536000"},
      {{"echo", "tcp://127.0.0.1:0"}, "--stats-interval", "a number of seconds", "0 to 86400"},
      {{"echo", "unix:@x"}, "--max-frame", "a size in bytes", "1 to 4294967295"},
  };
  const std::vector<std::string> bad = {"-1",  "18446744073709551616", "nan", "inf", "-inf", "abc",
                                        "1e999", "99999999999", "", "0x10", " 5"};
  for (const NumericCase& c : cases) {
    for (const std::string& value : bad) {
      std::vector<std::string> args = c.command;
      args.push_back(c.option);
      args.push_back(value);
      Outcome o = run_sockit(args);
      EXPECT_EQ(o.exit.code, 2) << c.option << " '" << value << "': " << o.exit << "\n" << o.err;
      EXPECT_EQ(o.err, "sockit: " + c.option + ": '" + value + "' is not " + c.what + " (" + c.range +
                           "); see 'sockit " + c.command[0] + " --help'\n");
    }
  }
  // Fractions where seconds are meant, whole numbers elsewhere.
  Outcome fraction = run_sockit({"echo", "tcp://127.0.0.1:0", "--max-conns", "1.5"});
  EXPECT_EQ(fraction.exit.code, 2) << fraction.err;
  Outcome zero = run_sockit({"echo", "tcp://127.0.0.1:0", "--threads", "0"});
  EXPECT_EQ(zero.exit.code, 2) << zero.err;
  Outcome tiny = run_sockit({"connect", "tcp://127.0.0.1:1", "--timeout", "0"});
  EXPECT_EQ(tiny.exit.code, 2) << tiny.err;
}

TEST(CliBugs, NumericOptionsAcceptDecimalValuesInRange) {
  // A leading zero is decimal, not octal: --max-conns 010 allows ten.
  EchoServer server("tcp://127.0.0.1:0", {"-v", "--max-conns", "010", "--idle-timeout", "1e3",
                                          "--stats-interval", "0.5", "--max-conns-per-peer", "0"});
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  std::vector<Result<StreamSocket>> clients;
  for (int i = 0; i < 11; ++i) clients.push_back(connect(*Address::parse(server.address), 2s));
  EXPECT_TRUE(server.child.wait_for_err("refused, over --max-conns 10\n")) << server.child.err();
  EXPECT_TRUE(server.child.wait_for_err("sockit: stats: ")) << server.child.err();
  EXPECT_EQ(server.stop().code, 0);
}

// --- 5. select's descriptor limit ------------------------------------------------------

TEST(CliBugs, SelectBackendLowersMaxConnsWithAWarningAndCountsTheExcessAsRefused) {
  EchoServer server("tcp://127.0.0.1:0", {"--backend", "select", "--max-conns", "5000", "--stats-interval", "0.1"});
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  const std::regex warning("sockit: echo tcp://127\\.0\\.0\\.1:0: --backend select watches descriptors below "
                           "1024 only: --max-conns lowered from 5000 to (\\d+)\n");
  std::smatch m;
  const std::string err = server.child.err();
  ASSERT_TRUE(std::regex_search(err, m, warning)) << err;
  const std::size_t cap = std::stoul(m[1].str());
  EXPECT_GT(cap, 960u);
  EXPECT_LT(cap, 1024u);
  // cap + 20 clients at once: every one is served or refused, none lost as an error.
  std::vector<StreamSocket> clients;
  for (std::size_t i = 0; i < cap + 20; ++i) {
    auto c = connect(*Address::parse(server.address), 5s);
    ASSERT_TRUE(c) << i << ": " << c.error().message();
    clients.push_back(std::move(*c));
  }
  // The served ones still echo.
  ASSERT_TRUE(clients.front().send_all(bytes_of("ping"), 5s));
  std::vector<std::byte> back(4);
  ASSERT_TRUE(clients.front().recv_exact(back, 5s));
  // Every one taken off the backlog before the stop (the stats line says so).
  EXPECT_TRUE(server.child.wait_for_err(std::to_string(cap) + " accepted, 20 refused, 0 shed", 20s))
      << server.child.err().substr(0, 2000);
  clients.clear();
  Exit exit = server.stop();
  EXPECT_EQ(exit.code, 0) << exit;
  const std::string summary = server.child.err();
  EXPECT_NE(summary.find("sockit: echo stopped by SIGINT: " + std::to_string(cap) + " connections (20 refused)"),
            std::string::npos)
      << summary;
  EXPECT_NE(summary.find("refused: 20 over --max-conns"), std::string::npos) << summary;
  EXPECT_NE(summary.find(" 0 on other error"), std::string::npos) << summary;
}

// --- 6. the top level -------------------------------------------------------------------

TEST(CliBugs, VersionHelpAndUnknownCommands) {
  Outcome version = run_sockit({"--version"});
  EXPECT_EQ(version.exit.code, 0);
  EXPECT_TRUE(std::regex_match(version.out, std::regex("sockit \\d+\\.\\d+\\.\\d+\n"))) << version.out;

  Outcome unknown = run_sockit({"foo"});
  EXPECT_EQ(unknown.exit.code, 2);
  EXPECT_TRUE(std::regex_match(unknown.err,
                               std::regex("sockit: unknown command 'foo'; the commands are connect, listen, "
                                          "echo(, [a-z-]+)*; see 'sockit --help'\n")))
      << unknown.err;

  Outcome none = run_sockit({});
  EXPECT_EQ(none.exit.code, 2);
  EXPECT_TRUE(std::regex_match(none.err, std::regex("sockit: a command is required: connect, listen, echo(, "
                                                    "[a-z-]+)*; see 'sockit --help'\n")))
      << none.err;

  Outcome help = run_sockit({"help"});
  EXPECT_EQ(help.exit.code, 0) << help.err;
  EXPECT_NE(help.out.find("Usage: sockit"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("echo"), std::string::npos) << help.out;

  for (const char* command : {"connect", "listen", "echo"}) {
    Outcome topic = run_sockit({"help", command});
    EXPECT_EQ(topic.exit.code, 0) << command << ": " << topic.err;
    EXPECT_NE(topic.out.find(std::string("Usage: sockit ") + command), std::string::npos) << topic.out;
    EXPECT_EQ(topic.out, run_sockit({command, "--help"}).out) << command;
  }
  Outcome bad_topic = run_sockit({"help", "foo"});
  EXPECT_EQ(bad_topic.exit.code, 2);
  EXPECT_EQ(bad_topic.err.rfind("sockit: unknown command 'foo'", 0), 0u) << bad_topic.err;
}

TEST(CliBugs, UsageErrorsAreOneLineInTheHouseStyle) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"connect", "--timeout", "abc", "tcp://127.0.0.1:1"},
       "sockit: --timeout: 'abc' is not a number of seconds (0.001 to 86400); see 'sockit connect --help'\n"},
      {{"connect"}, "sockit: ADDR is required; see 'sockit connect --help'\n"},
      {{"connect", "--bogus", "tcp://127.0.0.1:1"}, "sockit: unknown option '--bogus'; see 'sockit connect --help'\n"},
      {{"connect", "tcp://127.0.0.1:1", "extra"}, "sockit: unexpected argument 'extra'; see 'sockit connect --help'\n"},
      {{"echo", "tcp://127.0.0.1:0", "--threads"}, "sockit: --threads needs a value; see 'sockit echo --help'\n"},
      {{"echo", "tcp://127.0.0.1:0", "--backend", "kqueue"},
       "sockit: --backend: 'kqueue' is not one of auto, select, poll, epoll, epoll-et, io_uring; see 'sockit echo "
       "--help'\n"},
  };
  for (const auto& [args, expected] : cases) {
    Outcome o = run_sockit(args);
    EXPECT_EQ(o.exit.code, 2) << args.front() << ": " << o.exit;
    EXPECT_EQ(o.err, expected);
  }
}

}  // namespace
}  // namespace sockit::test::cli
