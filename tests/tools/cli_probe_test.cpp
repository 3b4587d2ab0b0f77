// `sockit probe`: one line per address, exit 0 only if all listen, and the Unix
// path cases told apart (live, stale, not a socket, missing, other socket type).
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "cli_harness.hpp"
#include "sockit/sockit.hpp"
#include "support/temp_dir.hpp"

namespace sockit::test::cli {
namespace {

Exit probe(const std::vector<std::string>& args, std::string& out, std::string& err) {
  std::vector<std::string> argv = {"probe"};
  argv.insert(argv.end(), args.begin(), args.end());
  Outcome run = run_sockit(std::move(argv));
  out = std::move(run.out);
  err = std::move(run.err);
  return run.exit;
}

// A TCP port on loopback that nobody listens on (bound, then closed).
std::string closed_tcp_address() {
  auto listener = listen(*Address::parse("tcp://127.0.0.1:0"));
  EXPECT_TRUE(listener);
  return listener->local_address()->to_string();
}

// A socket file whose server is gone: bound, never listened on, closed.
void make_stale_socket_file(const std::string& path) {
  auto fd = Fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(fd.valid());
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  std::strncpy(un.sun_path, path.c_str(), sizeof un.sun_path - 1);
  ASSERT_EQ(::bind(fd.get(), reinterpret_cast<const sockaddr*>(&un), sizeof un), 0);
}

TEST(CliProbe, AllListeningIsExitZeroWithOneLineEach) {
  TempDir dir;
  EchoServer tcp("tcp://127.0.0.1:0");
  EchoServer unix_stream("unix:" + dir.file("s.sock"));
  EchoServer abstract("unix:@" + unique_abstract_name());
  EchoServer dgram("unix-dgram:" + dir.file("d.sock"));
  ASSERT_FALSE(tcp.address.empty() || unix_stream.address.empty() || abstract.address.empty() ||
               dgram.address.empty());
  std::string out, err;
  const Exit exit = probe({tcp.address, unix_stream.address, abstract.address, dgram.address}, out, err);
  EXPECT_EQ(exit.code, 0) << exit << "\n" << out << err;
  EXPECT_EQ(out, tcp.address + ": listening\n" + unix_stream.address + ": listening\n" + abstract.address +
                     ": listening\n" + dgram.address + ": listening (a datagram socket is bound here)\n");
  EXPECT_EQ(err, "");
  for (EchoServer* server : {&tcp, &unix_stream, &abstract, &dgram}) EXPECT_EQ(server->stop().code, 0);
}

TEST(CliProbe, EachKindOfAbsenceHasItsOwnLineAndExitOne) {
  TempDir dir;
  make_stale_socket_file(dir.file("stale.sock"));
  std::ofstream(dir.file("notes.txt")) << "not a socket\n";
  EchoServer live("tcp://127.0.0.1:0");
  ASSERT_FALSE(live.address.empty());
  const std::string closed = closed_tcp_address();
  const std::string abstract = "unix:@" + unique_abstract_name();

  std::string out, err;
  const Exit exit = probe({live.address, closed, "unix:" + dir.file("stale.sock"), "unix:" + dir.file("notes.txt"),
                           "unix:" + dir.file("gone.sock"), abstract},
                          out, err);
  EXPECT_EQ(exit.code, 1) << exit << "\n" << out << err;
  EXPECT_EQ(out, live.address + ": listening\n" + closed + ": refused (no listener)\n" + "unix:" +
                     dir.file("stale.sock") + ": stale socket file (no listener)\n" + "unix:" +
                     dir.file("notes.txt") + ": not a socket\n" + "unix:" + dir.file("gone.sock") +
                     ": no such file\n" + abstract + ": refused (no listener)\n");
  // Probing looks, it never repairs: the stale file is still there.
  EXPECT_TRUE(std::filesystem::exists(dir.file("stale.sock")));
  EXPECT_EQ(live.stop().code, 0);
}

TEST(CliProbe, TheWrongUnixSocketTypeNamesTheRightScheme) {
  TempDir dir;
  EchoServer dgram("unix-dgram:" + dir.file("d.sock"));
  EchoServer seqpacket("unix-seqpacket:" + dir.file("q.sock"));
  ASSERT_FALSE(dgram.address.empty() || seqpacket.address.empty());
  std::string out, err;
  const Exit exit = probe({"unix:" + dir.file("d.sock"), "unix:" + dir.file("q.sock")}, out, err);
  EXPECT_EQ(exit.code, 1) << exit << "\n" << out << err;
  EXPECT_EQ(out, "unix:" + dir.file("d.sock") + ": a datagram socket is listening here, not unix: (use unix-dgram:" +
                     dir.file("d.sock") + ")\n" + "unix:" + dir.file("q.sock") +
                     ": a seqpacket socket is listening here, not unix: (use unix-seqpacket:" + dir.file("q.sock") +
                     ")\n");
  EXPECT_EQ(dgram.stop().code, 0);
  EXPECT_EQ(seqpacket.stop().code, 0);
}

// Someone listens but never accepts: connect cannot finish, yet the answer is "listening".
TEST(CliProbe, AFullUnixBacklogIsListeningAndSaysSo) {
  TempDir dir;
  const auto address = *Address::parse("unix:" + dir.file("full.sock"));
  ListenOptions options;
  options.backlog = 1;
  auto listener = listen(address, options);
  ASSERT_TRUE(listener);
  std::vector<StreamSocket> held;
  for (int i = 0; i < 64; ++i) {
    auto c = connect(address, Deadline::after(std::chrono::milliseconds(50)));
    if (!c) break;
    held.push_back(std::move(*c));
  }
  ASSERT_LT(held.size(), 64u) << "the backlog never filled";
  std::string out, err;
  const Exit exit = probe({"--timeout", "0.2", address.to_string()}, out, err);
  EXPECT_EQ(exit.code, 0) << exit << "\n" << out << err;
  EXPECT_EQ(out, address.to_string() + ": listening, but its backlog is full (it is not accepting)\n");
}

TEST(CliProbe, UdpIsRefusedAndNothingIsProbed) {
  EchoServer live("tcp://127.0.0.1:0");
  ASSERT_FALSE(live.address.empty());
  std::string out, err;
  const Exit exit = probe({live.address, "udp://127.0.0.1:9"}, out, err);
  EXPECT_EQ(exit.code, 2) << exit;
  EXPECT_EQ(out, "");
  EXPECT_NE(err.find("sockit: probe udp://127.0.0.1:9: UDP cannot be probed"), std::string::npos) << err;
  EXPECT_EQ(live.stop().code, 0);
}

TEST(CliProbe, BadArgumentsAreUsageErrors) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {},
           {"tcp://:notaport"},
           {"--timeout", "0", "tcp://127.0.0.1:1"},
           {"--timeout", "abc", "tcp://127.0.0.1:1"},
           {"--timeout", "-1", "tcp://127.0.0.1:1"},
           {"--timeout", "nan", "tcp://127.0.0.1:1"},
           {"--timeout", "inf", "tcp://127.0.0.1:1"},
           {"-4", "unix:@x"},
           {"-4", "-6", "tcp://127.0.0.1:1"},
       }) {
    std::string joined;
    for (const auto& a : args) joined += a + " ";
    SCOPED_TRACE(joined);
    std::string out, err;
    const Exit exit = probe(args, out, err);
    EXPECT_EQ(exit.code, 2) << exit << "\n" << err;
    EXPECT_EQ(out, "");
  }
}

TEST(CliProbe, FamilyFlagsChooseTheAddressesOfAName) {
  EchoServer v4("tcp://127.0.0.1:0");
  ASSERT_FALSE(v4.address.empty());
  std::string out, err;
  EXPECT_EQ(probe({"-4", "tcp://localhost:" + port_of(v4.address)}, out, err).code, 0) << out << err;
  // An IPv4 literal with -6 is a usage error, as on listen, echo and relay.
  const Exit exit = probe({"-6", v4.address}, out, err);
  EXPECT_EQ(exit.code, 2) << exit;
  EXPECT_EQ(out, "");
  EXPECT_NE(err.find("-6 asks for IPv6 but 127.0.0.1 is an IPv4 address"), std::string::npos) << err;
  EXPECT_EQ(v4.stop().code, 0);
}

}  // namespace
}  // namespace sockit::test::cli
