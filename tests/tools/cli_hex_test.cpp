// `--hex`: the traffic on stderr, 16 bytes a line, direction, offset, hex and
// ASCII, for connect and listen, streams and datagrams.
#include <gtest/gtest.h>

#include "cli_harness.hpp"
#include "listen_server.hpp"

namespace sockit::test::cli {
namespace {

// The lines of `text` that start with `prefix`.
std::string lines_starting_with(const std::string& text, std::string_view prefix) {
  std::string lines;
  std::size_t at = 0;
  while (at < text.size()) {
    const auto end = text.find('\n', at);
    const std::string line = text.substr(at, end == std::string::npos ? std::string::npos : end - at + 1);
    if (line.starts_with(prefix)) lines += line;
    if (end == std::string::npos) break;
    at = end + 1;
  }
  return lines;
}

TEST(CliHex, ConnectDumpsWhatItSendsAndReceivesOverAStream) {
  EchoServer server("tcp://127.0.0.1:0");
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  Process client({sockit_bin(), "connect", "--hex", server.address});
  client.send("hello, hex dump world\x01\xff\n");  // 24 bytes: a full line and a short one
  Exit exit = client.finish();
  EXPECT_EQ(exit.code, 0) << exit << "\n" << client.err();
  EXPECT_EQ(client.out(), "hello, hex dump world\x01\xff\n");  // stdout keeps only the data
  const std::string kOut =
      "> 00000000  68 65 6c 6c 6f 2c 20 68  65 78 20 64 75 6d 70 20  |hello, hex dump |\n"
      "> 00000010  77 6f 72 6c 64 01 ff 0a                           |world...|\n";
  EXPECT_EQ(lines_starting_with(client.err(), "> "), kOut);
  // The echo may come back in more than one read; the offsets go on across reads.
  std::string received = lines_starting_with(client.err(), "< ");
  EXPECT_TRUE(received.starts_with("< 00000000  68 65 6c 6c 6f")) << received;
  EXPECT_NE(received.find("|world...|\n"), std::string::npos) << received;
  EXPECT_EQ(server.stop().code, 0);
}

TEST(CliHex, ListenDumpsEachDatagramWithOffsetsPerDirection) {
  ListenServer server({"udp://127.0.0.1:0", "--hex"});
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  Process client({sockit_bin(), "connect", server.address, "--wait", "0.2"});
  client.send("ping");
  ASSERT_TRUE(server.child.wait_for_out("ping")) << server.child.err();
  client.send("again");
  ASSERT_TRUE(server.child.wait_for_out("pingagain")) << server.child.err();
  server.child.send("pong\n");
  ASSERT_TRUE(client.wait_for_out("pong\n")) << client.err();
  EXPECT_EQ(server.stop().code, 0) << server.child.err();
  EXPECT_EQ(client.finish().code, 0) << client.err();
  EXPECT_EQ(lines_starting_with(server.child.err(), "< "),
            "< 00000000  70 69 6e 67                                       |ping|\n"
            "< 00000004  61 67 61 69 6e                                    |again|\n");
  EXPECT_EQ(lines_starting_with(server.child.err(), "> "),
            "> 00000000  70 6f 6e 67 0a                                    |pong.|\n");
}

TEST(CliHex, KeepLabelsEachConnectionsLines) {
  ListenServer server({"tcp://127.0.0.1:0", "--keep", "--hex"});
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  server.child.close_stdin();
  Process client({sockit_bin(), "connect", server.address});
  client.send("abc");
  EXPECT_EQ(client.finish().code, 0) << client.err();
  ASSERT_TRUE(server.child.wait_for_err("|abc|\n")) << server.child.err();
  EXPECT_EQ(lines_starting_with(server.child.err(), "#1 "),
            "#1 < 00000000  61 62 63                                          |abc|\n");
  EXPECT_EQ(server.stop().code, 0);
}

}  // namespace
}  // namespace sockit::test::cli
