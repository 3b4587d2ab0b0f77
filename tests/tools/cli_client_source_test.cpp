// connect's -4/-6 and --bind, and listen -v naming a Unix peer's credentials: the
// server side shows what the client chose.
#include <gtest/gtest.h>
#include <unistd.h>

#include "cli_harness.hpp"
#include "support/temp_dir.hpp"

namespace sockit::test::cli {
namespace {

struct VerboseListener {
  explicit VerboseListener(const std::string& listen_address)
      : child({sockit_bin(), "listen", listen_address, "-v"}) {
    address = child.listening_address().value_or("");
  }
  Process child;
  std::string address;
};

// 127.0.0.2 is loopback too (all of 127/8), so the source differs from the server's address.
TEST(CliClientSource, BindSetsTheTcpSourceTheServerSees) {
  VerboseListener server("tcp://127.0.0.1:0");
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  Process client({sockit_bin(), "connect", server.address, "--bind", "127.0.0.2"});
  client.send("hi\n");
  ASSERT_TRUE(server.child.wait_for_err("connection from tcp://127.0.0.2:")) << server.child.err();
  ASSERT_TRUE(server.child.wait_for_out("hi\n"));
  server.child.close_stdin();
  EXPECT_EQ(client.finish().code, 0) << client.err();
  EXPECT_EQ(server.child.finish().code, 0) << server.child.err();
}

TEST(CliClientSource, BindWithAPortAndOverUdp) {
  VerboseListener server("udp://127.0.0.1:0");
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  Process client({sockit_bin(), "connect", server.address, "--bind", "udp://127.0.0.3:0", "--wait", "0.1"});
  client.send("datagram\n");
  ASSERT_TRUE(server.child.wait_for_err("datagram from udp://127.0.0.3:")) << server.child.err();
  EXPECT_EQ(client.finish().code, 0) << client.err();
  server.child.signal(SIGINT);
  EXPECT_EQ(server.child.finish().code, 0);
}

TEST(CliClientSource, FamilyFlagsKeepOnlyThatFamily) {
  VerboseListener v6("tcp://[::1]:0");
  ASSERT_FALSE(v6.address.empty()) << v6.child.err();
  // An IPv6 literal with -4 is a usage error, as on listen, echo and relay.
  Process wrong({sockit_bin(), "connect", "-4", v6.address});
  const Exit refused = wrong.finish();
  EXPECT_EQ(refused.code, 2) << refused;
  EXPECT_NE(wrong.err().find("-4 asks for IPv4 but ::1 is an IPv6 address"), std::string::npos) << wrong.err();

  Process right({sockit_bin(), "connect", "-6", v6.address});
  right.send("six\n");
  ASSERT_TRUE(v6.child.wait_for_out("six\n")) << v6.child.err();
  v6.child.close_stdin();
  EXPECT_EQ(right.finish().code, 0) << right.err();
  EXPECT_EQ(v6.child.finish().code, 0);
}

TEST(CliClientSource, SourceOptionsThatDoNotFitAreUsageErrors) {
  const std::vector<std::vector<std::string>> cases = {
      {"unix:@sockit-x", "-4"},
      {"unix:/tmp/sockit-x.sock", "-6"},
      {"unix-dgram:@sockit-x", "--bind", "127.0.0.1"},
      {"tcp://127.0.0.1:1", "--bind", "udp://127.0.0.1:0"},
      {"tcp://127.0.0.1:1", "--bind", "127.0.0.1:99999"},
      {"tcp://127.0.0.1:1", "-4", "-6"},
  };
  for (const auto& args : cases) {
    std::vector<std::string> argv = {sockit_bin(), "connect"};
    argv.insert(argv.end(), args.begin(), args.end());
    SCOPED_TRACE(args[0] + " " + args[1]);
    Process child(argv);
    const Exit exit = child.finish();
    EXPECT_EQ(exit.code, 2) << exit << "\n" << child.err();
  }
}

// SO_PEERCRED: the pid is the client process's own, the uid ours.
TEST(CliClientSource, ListenVerboseNamesTheUnixPeersCredentials) {
  TempDir dir;
  VerboseListener server("unix:" + dir.file("cred.sock"));
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  Process client({sockit_bin(), "connect", server.address});
  client.send("x");
  const std::string expected = "(pid " + std::to_string(client.pid()) + ", uid " + std::to_string(::geteuid()) +
                               ", gid " + std::to_string(::getegid()) + ")";
  ASSERT_TRUE(server.child.wait_for_err(expected)) << server.child.err();
  server.child.close_stdin();
  EXPECT_EQ(client.finish().code, 0);
  EXPECT_EQ(server.child.finish().code, 0);
}

}  // namespace
}  // namespace sockit::test::cli
