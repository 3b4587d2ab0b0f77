// `sockit listen --keep`: clients served at the same time, stdin to all of them,
// --max-conns refusals; and the option's accepted and rejected values.
#include <gtest/gtest.h>

#include "cli_harness.hpp"
#include "listen_server.hpp"
#include "support/temp_dir.hpp"

namespace sockit::test::cli {
namespace {

TEST(CliKeep, ServesClientsAtTheSameTimeAndSendsStdinToAllOfThem) {
  TempDir dir;
  ListenServer server({"unix:" + dir.file("k.sock"), "--keep", "-v"});
  ASSERT_FALSE(server.address.empty()) << server.child.err();

  // Both clients stay connected (stdin open) while the other one talks.
  Process first({sockit_bin(), "connect", server.address});
  first.send("from first\n");
  ASSERT_TRUE(server.child.wait_for_out("from first\n")) << server.child.err();
  Process second({sockit_bin(), "connect", server.address});
  second.send("from second\n");
  ASSERT_TRUE(server.child.wait_for_out("from second\n")) << server.child.err();

  // One line of stdin reaches both.
  server.child.send("to everyone\n");
  ASSERT_TRUE(first.wait_for_out("to everyone\n")) << first.err();
  ASSERT_TRUE(second.wait_for_out("to everyone\n")) << second.err();

  // The end of stdin half-closes both; each ends when it closes its side.
  server.child.close_stdin();
  for (Process* client : {&first, &second}) {
    Exit exit = client->finish();
    EXPECT_EQ(exit.code, 0) << exit << "\n" << client->err();
    EXPECT_EQ(client->out(), "to everyone\n");
  }
  EXPECT_EQ(server.child.out(), "from first\nfrom second\n");
  Exit exit = server.stop();
  EXPECT_EQ(exit.code, 0) << exit << "\n" << server.child.err();
  EXPECT_NE(server.child.err().find("2 connections served, 0 refused"), std::string::npos) << server.child.err();
}

TEST(CliKeep, RefusesClientsOverMaxConnsAndCountsThem) {
  ListenServer server({"tcp://127.0.0.1:0", "--keep", "--max-conns", "1", "-v"});
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  Process held({sockit_bin(), "connect", server.address});
  held.send("held\n");
  ASSERT_TRUE(server.child.wait_for_out("held\n")) << server.child.err();

  // The second is accepted and closed at once: it reads end of stream.
  Process refused({sockit_bin(), "connect", server.address});
  ASSERT_TRUE(server.child.wait_for_err("connection #2 from")) << server.child.err();
  EXPECT_TRUE(server.child.wait_for_err("refused: 1 already open (--max-conns)")) << server.child.err();
  Exit refused_exit = refused.finish();
  EXPECT_EQ(refused_exit.code, 0) << refused_exit << "\n" << refused.err();
  EXPECT_EQ(refused.out(), "");

  // Once the first has gone, a new client is served again.
  server.child.close_stdin();
  EXPECT_EQ(held.finish().code, 0) << held.err();
  ASSERT_TRUE(server.child.wait_for_err("connection #1 closed")) << server.child.err();
  Process later({sockit_bin(), "connect", server.address});
  later.send("later\n");
  EXPECT_EQ(later.finish().code, 0) << later.err();
  EXPECT_TRUE(server.child.wait_for_out("later\n")) << server.child.err();
  Exit exit = server.stop();
  EXPECT_EQ(exit.code, 0) << exit;
  EXPECT_NE(server.child.err().find("2 connections served, 1 refused over --max-conns"), std::string::npos)
      << server.child.err();
}

TEST(CliKeep, MaxConnsAcceptsOneTo256AndNeedsKeep) {
  for (const char* good : {"1", "256"}) {
    ListenServer server({"tcp://127.0.0.1:0", "--keep", "--max-conns", good});
    EXPECT_FALSE(server.address.empty()) << good << ": " << server.child.err();
    EXPECT_EQ(server.stop().code, 0) << server.child.err();
  }
  for (const char* bad : {"0", "257", "-1", "abc", "1.5", "18446744073709551617"}) {
    Process child({sockit_bin(), "listen", "tcp://127.0.0.1:0", "--keep", "--max-conns", bad});
    Exit exit = child.finish();
    EXPECT_EQ(exit.code, 2) << bad << ": " << exit << "\n" << child.err();
  }
  Process without_keep({sockit_bin(), "listen", "tcp://127.0.0.1:0", "--max-conns", "4"});
  Exit exit = without_keep.finish();
  EXPECT_EQ(exit.code, 2) << exit;
  EXPECT_EQ(without_keep.err(),
            "sockit: listen tcp://127.0.0.1:0: --max-conns needs --keep (without it one client is served)\n");
  for (std::vector<std::string> args : {std::vector<std::string>{"udp://127.0.0.1:0", "--keep"},
                                        std::vector<std::string>{"unix-dgram:@x", "--keep", "--max-conns", "2"}}) {
    args.insert(args.begin(), {sockit_bin(), "listen"});
    Process datagram(args);
    Exit datagram_exit = datagram.finish();
    EXPECT_EQ(datagram_exit.code, 2) << datagram_exit << "\n" << datagram.err();
    EXPECT_NE(datagram.err().find("--keep applies to connections (tcp://, unix:, unix-seqpacket:), not to datagrams"), std::string::npos)
        << datagram.err();
  }
}

}  // namespace
}  // namespace sockit::test::cli
