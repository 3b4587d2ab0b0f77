// Issue 10's "rough edges": nc habits and address mistakes get a precise message
// with the fix, a stream client at a socket of another type is told its type,
// options that do not fit the address are usage errors, echo's drain is an option
// a second signal cuts short, and a datagram client can tell lost replies.
#include <gtest/gtest.h>

#include <array>
#include <filesystem>
#include <thread>
#include <string>
#include <vector>

#include "cli_harness.hpp"
#include "sockit/sockit.hpp"
#include "support/temp_dir.hpp"

namespace sockit::test::cli {
namespace {

TEST(CliRoughEdges, NcHabitsGetTheSockitAddress) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"connect", "127.0.0.1", "8080"}, "sockit: connect takes one address; did you mean tcp://127.0.0.1:8080?\n"},
      {{"connect", "localhost", "80"}, "sockit: connect takes one address; did you mean tcp://localhost:80?\n"},
      {{"listen", "127.0.0.1", "9000"}, "sockit: listen takes one address; did you mean tcp://127.0.0.1:9000?\n"},
      {{"connect", "/tmp/x.sock"}, "sockit: bad address '/tmp/x.sock': no scheme; did you mean unix:/tmp/x.sock?\n"},
      {{"connect", "127.0.0.1:8080"},
       "sockit: bad address '127.0.0.1:8080': no scheme; did you mean tcp://127.0.0.1:8080?\n"},
      {{"connect", "8080"}, "sockit: bad address '8080': no scheme; did you mean tcp://127.0.0.1:8080?\n"},
  };
  for (const auto& [args, expected] : cases) {
    Outcome o = run_sockit(args);
    EXPECT_EQ(o.exit.code, 2) << args[1];
    EXPECT_EQ(o.err, expected);
  }
}

TEST(CliRoughEdges, AddressErrorsSayWhatIsWrong) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "empty address; write one such as tcp://127.0.0.1:8080 or unix:/tmp/x.sock"},
      {"unix:", "unix: needs a path or an abstract name (unix:/tmp/x.sock, unix:@name)"},
      {"unix-dgram:", "unix-dgram: needs a path or an abstract name (unix-dgram:/tmp/x.sock, unix-dgram:@name)"},
      {"unix:@", "unix:@ needs a name after the '@'"},
      {"ipc://", "ipc:// needs a path (ipc:///run/x.sock, ipc://relative.sock) or @name"},
      {"tcp://::1:80", "an IPv6 address needs brackets; did you mean tcp://[::1]:80?"},
      {"udp://fe80::1:53", "an IPv6 address needs brackets; did you mean udp://[fe80::1]:53?"},
      {"TCP://127.0.0.1:80", "schemes are lower case; did you mean tcp://127.0.0.1:80?"},
      {"tcp:127.0.0.1:80", "tcp: needs '//'; did you mean tcp://127.0.0.1:80?"},
      {"tcp://localhost", "missing port; write tcp://localhost:PORT (port 0 asks the kernel for a free one)"},
      {"tcp://localhost:99999", "port 99999 is out of range (0 to 65535)"},
      {"tcp://localhost:http", "'http' is not a port number (0 to 65535)"},
      {"tcp://bad host:80", "'bad host' is not a host name or an IPv4 address"},
      {"unix://run/x", "unix:// takes an absolute path (unix:///run/x.sock); a relative one is unix:run/x"},
  };
  for (const auto& [address, why] : cases) {
    Outcome o = run_sockit({"connect", address});
    EXPECT_EQ(o.exit.code, 2) << address;
    EXPECT_EQ(o.err, "sockit: bad address '" + address + "': " + why + "\n");
  }
}

TEST(CliRoughEdges, UnknownIpv6ScopeInterfaceIsNamed) {
  Outcome o = run_sockit({"connect", "--timeout", "1", "tcp://[fe80::1%sockit-no-such0]:80"});
  EXPECT_EQ(o.exit.code, 1);
  EXPECT_EQ(o.err, "sockit: connect tcp://[fe80::1%sockit-no-such0]:80: no network interface named "
                   "'sockit-no-such0' (the scope after '%')\n");
}

TEST(CliRoughEdges, RelativeIpcPathsWorkAsInZeroMq) {
  TempDir dir;
  // The server's working directory is the temporary one: ipc://rel.sock is a file there.
  Process server({"sh", "-c", "cd '" + dir.path() + "' && exec '" + sockit_bin() + "' echo ipc://rel.sock"});
  auto address = server.listening_address();
  ASSERT_TRUE(address) << server.err();
  EXPECT_EQ(*address, "unix:rel.sock");
  EXPECT_TRUE(std::filesystem::exists(dir.file("rel.sock")));
  Outcome client = run_sockit({"connect", "unix:" + dir.file("rel.sock")}, "over a relative ipc path\n");
  EXPECT_EQ(client.exit.code, 0) << client.err;
  EXPECT_EQ(client.out, "over a relative ipc path\n");
  server.signal(SIGINT);
  EXPECT_EQ(server.finish().code, 0);
}

TEST(CliRoughEdges, StreamClientAtASocketOfAnotherTypeIsToldWhichSchemeToUse) {
  TempDir dir;
  const std::string dgram = dir.file("d.sock");
  const std::string name = unique_abstract_name();
  EchoServer datagrams("unix-dgram:" + dgram);
  EchoServer records("unix-seqpacket:@" + name);
  ASSERT_FALSE(datagrams.address.empty()) << datagrams.child.err();
  ASSERT_FALSE(records.address.empty()) << records.child.err();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"unix:" + dgram, "the socket is a datagram socket, not a stream one: use unix-dgram:" + dgram},
      {"unix-seqpacket:" + dgram, "the socket is a datagram socket, not a seqpacket one: use unix-dgram:" + dgram},
      {"unix:@" + name, "the name belongs to a seqpacket socket, not a stream one: use unix-seqpacket:@" + name},
  };
  for (const auto& [address, why] : cases) {
    Outcome o = run_sockit({"connect", address}, "x");
    EXPECT_EQ(o.exit.code, 1) << address;
    EXPECT_EQ(o.err, "sockit: connect " + address + ": " + why + "\n");
  }
  EXPECT_EQ(datagrams.stop().code, 0);
  EXPECT_EQ(records.stop().code, 0);
}

TEST(CliRoughEdges, OptionsThatDoNotFitTheAddressAreUsageErrors) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"listen", "--keep", "udp://127.0.0.1:0"},
       "sockit: listen udp://127.0.0.1:0: --keep applies to connections (tcp://, unix:, unix-seqpacket:), not to "
       "datagrams (a datagram listener serves every sender until interrupted)\n"},
      {{"connect", "--wait", "1", "tcp://127.0.0.1:1"},
       "sockit: connect tcp://127.0.0.1:1: --wait applies to datagrams (udp://, unix-dgram:), not to connections "
       "(a connection ends when the server closes it)\n"},
      {{"connect", "--expect-replies", "unix:/nonexistent.sock"},
       "sockit: connect unix:/nonexistent.sock: --expect-replies applies to datagrams (udp://, unix-dgram:), not "
       "to connections\n"},
      {{"echo", "--drain", "1", "udp://127.0.0.1:0"},
       "sockit: echo udp://127.0.0.1:0: --drain applies to connections (tcp://, unix:, unix-seqpacket:), not to "
       "datagrams\n"},
  };
  for (const auto& [args, expected] : cases) {
    Outcome o = run_sockit(args);
    EXPECT_EQ(o.exit.code, 2) << args[1];
    EXPECT_EQ(o.err, expected);
  }
  Outcome bad_drain = run_sockit({"echo", "--drain", "nan", "tcp://127.0.0.1:0"});
  EXPECT_EQ(bad_drain.exit.code, 2);
  EXPECT_EQ(bad_drain.err,
            "sockit: --drain: 'nan' is not a number of seconds (0 to 3600); see 'sockit echo --help'\n");
}

TEST(CliRoughEdges, ASecondSignalEndsTheDrainAtOnce) {
  EchoServer server("tcp://127.0.0.1:0", {"--drain", "60"});
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  // A client that never closes: the drain would wait the whole 60 s for it.
  auto client = connect(*Address::parse(server.address), 2s);
  ASSERT_TRUE(client);
  // One echo first: the server has accepted it (a connection still in the backlog
  // at SIGINT is closed at once, with no drain to cut short).
  ASSERT_TRUE(client->send_all(std::as_bytes(std::span(std::string_view("x"))), 2s));
  std::array<std::byte, 1> back{};
  ASSERT_TRUE(client->recv_exact(back, 2s));
  server.child.signal(SIGINT);
  std::this_thread::sleep_for(300ms);
  const auto start = std::chrono::steady_clock::now();
  server.child.signal(SIGINT);
  Exit exit = server.child.finish(10s);
  EXPECT_EQ(exit.code, 0) << exit;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_NE(server.child.err().find("sockit: second SIGINT: open connections reset without waiting for --drain\n"),
            std::string::npos)
      << server.child.err();
  EXPECT_NE(server.child.err().find("1 at shutdown"), std::string::npos) << server.child.err();
}

TEST(CliRoughEdges, DrainOptionBoundsTheWaitForOpenConnections) {
  EchoServer server("tcp://127.0.0.1:0", {"--drain", "0.2"});
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  auto client = connect(*Address::parse(server.address), 2s);
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->send_all(std::as_bytes(std::span(std::string_view("x"))), 2s));
  std::array<std::byte, 1> back{};
  ASSERT_TRUE(client->recv_exact(back, 2s));
  const auto start = std::chrono::steady_clock::now();
  Exit exit = server.stop();
  EXPECT_EQ(exit.code, 0) << exit;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1500ms);  // not the default 2 s
}

TEST(CliRoughEdges, DatagramClientCountsRepliesAndExpectRepliesFailsWhenOneIsMissing) {
  TempDir dir;
  // A datagram listener that answers nothing (its stdin is empty).
  const std::string sink = "unix-dgram:" + dir.file("sink.sock");
  Process listener({sockit_bin(), "listen", sink});
  ASSERT_TRUE(listener.listening_address()) << listener.err();
  listener.close_stdin();
  Outcome lost = run_sockit({"connect", "-v", "--wait", "0.3", "--expect-replies", sink}, "ping");
  EXPECT_EQ(lost.exit.code, 1) << lost.err;
  EXPECT_NE(lost.err.find("sockit: 1 datagram sent, 0 received\n"), std::string::npos) << lost.err;
  EXPECT_NE(lost.err.find("sockit: connect " + sink + ": 1 of 1 replies missing (none for --wait 0.3 s)\n"),
            std::string::npos)
      << lost.err;
  // Without --expect-replies, the same is not an error (a datagram may need no answer).
  Outcome quiet = run_sockit({"connect", "--wait", "0.3", sink}, "ping");
  EXPECT_EQ(quiet.exit.code, 0) << quiet.err;
  listener.signal(SIGINT);
  listener.finish();

  // An echo answers every datagram: exit 0.
  EchoServer echo("unix-dgram:" + dir.file("echo.sock"));
  ASSERT_FALSE(echo.address.empty());
  Outcome answered = run_sockit({"connect", "-v", "--wait", "0.3", "--expect-replies", echo.address}, "ping");
  EXPECT_EQ(answered.exit.code, 0) << answered.err;
  EXPECT_EQ(answered.out, "ping");
  EXPECT_NE(answered.err.find("sockit: 1 datagram sent, 1 received\n"), std::string::npos) << answered.err;
  EXPECT_EQ(echo.stop().code, 0);
}

}  // namespace
}  // namespace sockit::test::cli
