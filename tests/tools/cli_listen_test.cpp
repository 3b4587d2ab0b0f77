// `sockit listen` with `sockit connect` as its client: half-close, --keep,
// datagrams, and a clean stop.
#include <gtest/gtest.h>

#include <filesystem>

#include "cli_harness.hpp"
#include "listen_server.hpp"
#include "support/temp_dir.hpp"

namespace sockit::test::cli {
namespace {

TEST(CliListen, RepliesAfterTheClientHalfCloses) {
  TempDir dir;
  ListenServer server({"unix:" + dir.file("l.sock")});
  ASSERT_FALSE(server.address.empty()) << server.child.err();

  // The client sends and reaches the end of its input: it shuts down its side...
  Process client({sockit_bin(), "connect", server.address});
  client.send("ping\n");
  client.close_stdin();
  ASSERT_TRUE(server.child.wait_for_out("ping\n")) << server.child.err();
  // ...and the answer, written only now, still reaches it.
  server.child.send("pong\n");
  server.child.close_stdin();

  Exit client_exit = client.finish();
  EXPECT_EQ(client_exit.code, 0) << client_exit << "\n" << client.err();
  EXPECT_EQ(client.out(), "pong\n");
  Exit server_exit = server.child.finish();
  EXPECT_EQ(server_exit.code, 0) << server_exit << "\n" << server.child.err();
  EXPECT_EQ(server.child.out(), "ping\n");
  // Only the listening line: everything else needs -v.
  EXPECT_EQ(server.child.err(), "sockit: listening on " + server.address + "\n");
  EXPECT_FALSE(std::filesystem::exists(dir.file("l.sock")));
}

TEST(CliListen, WithKeepServesConnectionsOneAfterAnother) {
  ListenServer server({"tcp://127.0.0.1:0", "--keep"});
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  server.child.close_stdin();  // nothing to say: each client is half-closed at once

  for (const char* line : {"one\n", "two\n", "three\n"}) {
    Process client({sockit_bin(), "connect", server.address});
    client.send(line);
    Exit exit = client.finish();
    EXPECT_EQ(exit.code, 0) << exit << "\n" << client.err();
    EXPECT_TRUE(server.child.wait_for_out(line)) << server.child.out();
  }
  EXPECT_EQ(server.child.out(), "one\ntwo\nthree\n");
  server.child.signal(SIGINT);
  Exit exit = server.child.finish();
  EXPECT_EQ(exit.code, 0) << exit << "\n" << server.child.err();
}

TEST(CliListen, AnswersTheLastDatagramSender) {
  ListenServer server({"udp://127.0.0.1:0"});
  ASSERT_FALSE(server.address.empty()) << server.child.err();

  // The client's stdin stays open until the answer is in, so --wait can be short.
  Process client({sockit_bin(), "connect", server.address, "--wait", "0.2"});
  client.send("question\n");
  ASSERT_TRUE(server.child.wait_for_out("question\n")) << server.child.err();
  server.child.send("answer\n");
  ASSERT_TRUE(client.wait_for_out("answer\n")) << client.err();

  server.child.signal(SIGINT);
  Exit server_exit = server.child.finish();
  EXPECT_EQ(server_exit.code, 0) << server_exit << "\n" << server.child.err();
  Exit client_exit = client.finish();
  EXPECT_EQ(client_exit.code, 0) << client_exit << "\n" << client.err();
  EXPECT_EQ(client.out(), "answer\n");
}

TEST(CliListen, ExitsZeroOnSigintAndRemovesItsSocketFile) {
  TempDir dir;
  const std::string path = dir.file("wait.sock");
  ListenServer server({"unix:" + path});
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  EXPECT_TRUE(std::filesystem::exists(path));
  server.child.signal(SIGINT);
  Exit exit = server.child.finish();
  EXPECT_EQ(exit.code, 0) << exit;
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(CliListen, RejectsAMalformedAddressWithStatusTwo) {
  Process child({sockit_bin(), "listen", "tcp://:notaport"});
  Exit exit = child.finish();
  EXPECT_EQ(exit.code, 2) << exit;
  EXPECT_NE(child.err().find("sockit: bad address 'tcp://:notaport'"), std::string::npos) << child.err();
}

}  // namespace
}  // namespace sockit::test::cli
