// The sockit CLI against itself: `sockit echo` served to `sockit connect` on every
// transport, the error paths and their exit statuses, --help.
// (`sockit listen` is in cli_listen_test.cpp, third-party peers in cli_peers_test.cpp.)
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "cli_harness.hpp"
#include "support/temp_dir.hpp"

namespace sockit::test::cli {
namespace {

// Starts `sockit echo LISTEN`, relays two lines through `sockit connect`, stops the
// server with SIGINT, and checks every step.
void expect_round_trip(const std::string& listen_address, std::vector<std::string> connect_options = {}) {
  EchoServer server(listen_address);
  ASSERT_FALSE(server.address.empty()) << "echo did not start: " << server.child.err();

  std::vector<std::string> args = {"connect", server.address};
  args.insert(args.end(), connect_options.begin(), connect_options.end());
  Outcome run = run_sockit(args, "hello\nworld\n");
  EXPECT_EQ(run.exit.code, 0) << run.exit << "\n" << run.err;
  EXPECT_EQ(run.out, "hello\nworld\n");

  Exit stopped = server.stop();
  EXPECT_EQ(stopped.code, 0) << stopped << "\n" << server.child.err();
  EXPECT_NE(server.child.err().find("sockit: echo stopped by SIGINT"), std::string::npos)
      << server.child.err();
}

// True when the machine has no IPv6 loopback (a container without ::1).
bool ipv6_unavailable(const std::string& err) {
  return err.find("cannot assign requested address") != std::string::npos ||
         err.find("address family not supported") != std::string::npos;
}

std::size_t count_lines(const std::string& text) { return std::count(text.begin(), text.end(), '\n'); }

TEST(CliEcho, EchoesOverAUnixPathSocket) {
  TempDir dir;
  expect_round_trip("unix:" + dir.file("e.sock"));
}

TEST(CliEcho, EchoesOverAnAbstractUnixName) { expect_round_trip("unix:@" + unique_abstract_name()); }

TEST(CliEcho, EchoesOverUnixSeqpacket) {
  TempDir dir;
  expect_round_trip("unix-seqpacket:" + dir.file("s.sock"));
}

TEST(CliEcho, EchoesOverTcpIpv4OnAnEphemeralPort) {
  EchoServer server("tcp://127.0.0.1:0");
  ASSERT_EQ(server.address.rfind("tcp://127.0.0.1:", 0), 0u) << server.child.err();
  EXPECT_NE(port_of(server.address), "0");
  EXPECT_EQ(server.stop().code, 0);
  expect_round_trip("tcp://127.0.0.1:0");
}

TEST(CliEcho, EchoesOverTcpIpv6) {
  {
    EchoServer probe("tcp://[::1]:0");
    if (probe.address.empty() && ipv6_unavailable(probe.child.err())) GTEST_SKIP() << "no IPv6 loopback here";
  }
  expect_round_trip("tcp://[::1]:0");
}

TEST(CliEcho, EchoesDatagramsOverUdp) { expect_round_trip("udp://127.0.0.1:0", {"--wait", "0.5"}); }

TEST(CliEcho, EchoesDatagramsOverUnixDgram) {
  TempDir dir;
  expect_round_trip("unix-dgram:" + dir.file("d.sock"), {"--wait", "0.5"});
}

TEST(CliEcho, RelaysMegabytesBothWaysWithoutStalling) {
  // More than the echo's 1 MiB high-water mark and the socket buffers together:
  // the client must keep reading while it writes, or both sides would stall.
  TempDir dir;
  const std::string input_path = dir.file("input");
  std::string input;
  for (int i = 0; input.size() < (6u << 20); ++i)
    input += "line " + std::to_string(i) + " of the bulk test\n";
  std::ofstream(input_path, std::ios::binary) << input;

  for (const std::string& address : {"unix:" + dir.file("bulk.sock"), std::string("tcp://127.0.0.1:0")}) {
    EchoServer server(address);
    ASSERT_FALSE(server.address.empty()) << server.child.err();
    Process client({sockit_bin(), "connect", server.address}, {.stdin_file = input_path});
    Exit exit = client.finish(30s);
    EXPECT_EQ(exit.code, 0) << exit << "\n" << client.err();
    EXPECT_EQ(client.out().size(), input.size()) << address;
    EXPECT_TRUE(client.out() == input) << address << ": the echo differs from what was sent";
    EXPECT_EQ(server.stop().code, 0);
  }
}

TEST(CliEcho, ServesSeveralClientsAtOnce) {
  TempDir dir;
  EchoServer server("unix:" + dir.file("many.sock"));
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  std::vector<std::unique_ptr<Process>> clients;
  for (int i = 0; i < 4; ++i)
    clients.push_back(
        std::make_unique<Process>(std::vector<std::string>{sockit_bin(), "connect", server.address}));
  // All four connected and talking before any of them finishes.
  for (int i = 0; i < 4; ++i) {
    const std::string line = "client " + std::to_string(i) + "\n";
    clients[i]->send(line);
    EXPECT_TRUE(clients[i]->wait_for_out(line)) << clients[i]->err();
  }
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(clients[i]->finish().code, 0) << clients[i]->err();
    EXPECT_EQ(clients[i]->out(), "client " + std::to_string(i) + "\n");
  }
  EXPECT_EQ(server.stop().code, 0);
  EXPECT_NE(server.child.err().find("4 connections"), std::string::npos) << server.child.err();
}

TEST(CliEcho, ClosesConnectionsBeyondMaxConns) {
  TempDir dir;
  EchoServer server("unix:" + dir.file("cap.sock"), {"--max-conns", "1"});
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  Process first({sockit_bin(), "connect", server.address});
  first.send("first\n");
  ASSERT_TRUE(first.wait_for_out("first\n")) << first.err();

  // The second is accepted and closed at once: it gets no echo.
  Outcome second = run_sockit({"connect", server.address}, "second\n");
  EXPECT_EQ(second.out, "");

  EXPECT_EQ(first.finish().code, 0);
  EXPECT_EQ(server.stop().code, 0);
  EXPECT_NE(server.child.err().find("1 refused"), std::string::npos) << server.child.err();
}

TEST(CliEcho, ExitsZeroOnSigintAndRemovesItsSocketFile) {
  TempDir dir;
  const std::string path = dir.file("gone.sock");
  EchoServer server("unix:" + path);
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  EXPECT_TRUE(std::filesystem::exists(path));
  Exit exit = server.stop();
  EXPECT_EQ(exit.code, 0) << exit;
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_NE(server.child.err().find("0 connections, 0 bytes in, 0 bytes out"), std::string::npos)
      << server.child.err();
}

TEST(CliEcho, RemovesItsUnixDatagramSocketFileOnSigint) {
  TempDir dir;
  const std::string path = dir.file("dgram.sock");
  EchoServer server("unix-dgram:" + path);
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  EXPECT_EQ(server.stop().code, 0);
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(CliEcho, ExitsZeroOnSigterm) {
  EchoServer server("tcp://127.0.0.1:0");
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  server.child.signal(SIGTERM);
  Exit exit = server.child.finish();
  EXPECT_EQ(exit.code, 0) << exit;
  EXPECT_NE(server.child.err().find("stopped by SIGTERM"), std::string::npos) << server.child.err();
}

TEST(CliEcho, RefusesAPathOwnedByALiveServer) {
  TempDir dir;
  EchoServer first("unix:" + dir.file("busy.sock"));
  ASSERT_FALSE(first.address.empty()) << first.child.err();
  Outcome second = run_sockit({"echo", first.address});
  EXPECT_EQ(second.exit.code, 1) << second.exit;
  EXPECT_NE(second.err.find("sockit: echo " + first.address + ": address in use"), std::string::npos)
      << second.err;
  EXPECT_EQ(first.stop().code, 0);
}

TEST(CliConnect, ReportsAMissingSocketPathOnOneLine) {
  TempDir dir;
  const std::string address = "unix:" + dir.file("nobody.sock");
  Outcome run = run_sockit({"connect", address}, "x");
  EXPECT_EQ(run.exit.code, 1) << run.exit;
  EXPECT_EQ(count_lines(run.err), 1u) << run.err;
  EXPECT_EQ(run.err, "sockit: connect " + address + ": no such file or directory (is a server listening?)\n");
  EXPECT_EQ(run.out, "");
}

TEST(CliConnect, ReportsConnectionRefusedForASocketFileWithNoServer) {
  // A bound, never-listening socket leaves the file a dead server would.
  TempDir dir;
  const std::string path = dir.file("stale.sock");
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  std::strncpy(sun.sun_path, path.c_str(), sizeof sun.sun_path - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sun), sizeof sun), 0);
  ::close(fd);

  Outcome run = run_sockit({"connect", "unix:" + path}, "x");
  EXPECT_EQ(run.exit.code, 1) << run.exit;
  EXPECT_EQ(run.err, "sockit: connect unix:" + path + ": connection refused (is a server listening?)\n");
}

TEST(CliConnect, ReportsConnectionRefusedOnATcpPortWithNoListener) {
  // Bound but not listening: the port is ours, so no other test can take it meanwhile.
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof sin;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&sin), &length), 0);
  const std::string address = "tcp://127.0.0.1:" + std::to_string(ntohs(sin.sin_port));

  Outcome run = run_sockit({"connect", address}, "x");
  ::close(fd);
  EXPECT_EQ(run.exit.code, 1) << run.exit;
  EXPECT_NE(run.err.find("sockit: connect " + address + ": connection refused"), std::string::npos)
      << run.err;
}

TEST(CliConnect, RejectsAMalformedAddressWithStatusTwo) {
  for (const char* bad : {"nonsense", "tcp://127.0.0.1", "tcp://127.0.0.1:99999", "bogus://x"}) {
    Outcome run = run_sockit({"connect", bad});
    EXPECT_EQ(run.exit.code, 2) << bad << ": " << run.exit;
    EXPECT_NE(run.err.find(std::string("sockit: bad address '") + bad + "'"), std::string::npos) << run.err;
    EXPECT_EQ(count_lines(run.err), 1u) << run.err;
  }
}

TEST(CliConnect, RejectsAnUnknownOptionWithStatusTwo) {
  Outcome run = run_sockit({"connect", "--no-such-option", "unix:/tmp/x"});
  EXPECT_EQ(run.exit.code, 2) << run.exit;
  Outcome none = run_sockit({});
  EXPECT_EQ(none.exit.code, 2) << none.exit;
}

TEST(CliConnect, SurvivesItsStdoutBeingClosed) {
  EchoServer server("tcp://127.0.0.1:0");
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  Process client({sockit_bin(), "connect", server.address});
  client.close_stdout();  // the echo will meet EPIPE, not SIGPIPE
  client.send("nobody reads this\n");
  Exit exit = client.finish();
  EXPECT_EQ(exit.signal, 0) << exit;
  EXPECT_EQ(exit.code, 0) << exit << "\n" << client.err();
  EXPECT_EQ(server.stop().code, 0);
}

TEST(CliHelp, EveryCommandExplainsItselfWithExamples) {
  for (const char* command : {"connect", "listen", "echo"}) {
    Outcome run = run_sockit({command, "--help"});
    EXPECT_EQ(run.exit.code, 0) << command << ": " << run.exit;
    EXPECT_NE(run.out.find("Examples:"), std::string::npos) << run.out;
    EXPECT_NE(run.out.find("Exit status"), std::string::npos) << run.out;
  }
  Outcome top = run_sockit({"--help"});
  EXPECT_EQ(top.exit.code, 0);
  EXPECT_NE(top.out.find("connect"), std::string::npos) << top.out;
}

}  // namespace
}  // namespace sockit::test::cli
