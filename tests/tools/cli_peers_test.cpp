// The sockit CLI against tools it did not write: Python's socket module, OpenBSD
// netcat, socat and ncat, as clients of `sockit echo` and of `sockit listen`.
// A peer that is not installed is a skip with its name, never a pass.
#include <gtest/gtest.h>

#include <functional>

#include "cli_harness.hpp"
#include "support/temp_dir.hpp"

namespace sockit::test::cli {
namespace {

#define REQUIRE_PROGRAM(name)                    \
  if (!have_program(name)) {                     \
    GTEST_SKIP() << name << " is not installed"; \
  }

// Runs a peer client with `input`, closes its stdin, and expects `input` back and
// a zero exit status. Datagram clients may quit as soon as stdin ends, so for them
// the reply is awaited before stdin is closed.
void expect_client_echo(std::vector<std::string> argv, const std::string& input, bool datagram = false) {
  Process client(std::move(argv));
  ASSERT_TRUE(client.started());
  client.send(input);
  if (datagram) {
    EXPECT_TRUE(client.wait_for_out(input)) << client.err();
  }
  Exit exit = client.finish();
  EXPECT_EQ(exit.code, 0) << exit << "\n" << client.err();
  EXPECT_EQ(client.out(), input);
}

// `sockit echo` on a fresh Unix path; `check` gets the socket's path.
template <typename Check>
void with_unix_echo(const char* scheme, Check check) {
  TempDir dir;
  const std::string path = dir.file("peer.sock");
  EchoServer server(std::string(scheme) + path);
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  check(path);
  EXPECT_EQ(server.stop().code, 0) << server.child.err();
}

// `sockit echo` on ADDR with port 0; `check` gets the port the kernel chose.
template <typename Check>
void with_inet_echo(const char* address, Check check) {
  EchoServer server(address);
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  check(port_of(server.address));
  EXPECT_EQ(server.stop().code, 0) << server.child.err();
}

// The reference client: connect, sendall, recv until the whole echo is back.
constexpr const char* kPythonUnixClient = R"(
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
message = b'hello from python\n'
s.sendall(message)
data = b''
while len(data) < len(message):
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
sys.stdout.write(data.decode())
)";

// Three records of different sizes; each recv must return exactly one of them.
constexpr const char* kPythonSeqpacketClient = R"(
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.settimeout(10)
s.connect(sys.argv[1])
for size in (1, 300, 40000):
    s.send(b'r' * size)
print(' '.join(str(len(s.recv(65536))) for _ in range(3)))
)";

TEST(CliEcho, AnswersAPythonUnixStreamClient) {
  REQUIRE_PROGRAM("python3");
  with_unix_echo("unix:", [](const std::string& path) {
    Process client({"python3", "-c", kPythonUnixClient, path});
    Exit exit = client.finish();
    EXPECT_EQ(exit.code, 0) << exit << "\n" << client.err();
    EXPECT_EQ(client.out(), "hello from python\n");
  });
}

TEST(CliEcho, KeepsSeqpacketRecordBoundaries) {
  REQUIRE_PROGRAM("python3");
  with_unix_echo("unix-seqpacket:", [](const std::string& path) {
    Process client({"python3", "-c", kPythonSeqpacketClient, path});
    Exit exit = client.finish();
    EXPECT_EQ(exit.code, 0) << exit << "\n" << client.err();
    EXPECT_EQ(client.out(), "1 300 40000\n");
  });
}

TEST(CliEcho, AnswersNetcatOverUnix) {
  REQUIRE_PROGRAM("nc");
  with_unix_echo("unix:", [](const std::string& path) {
    expect_client_echo({"nc", "-N", "-U", path}, "hello from nc\n");
  });
}

TEST(CliEcho, AnswersNetcatOverTcp) {
  REQUIRE_PROGRAM("nc");
  with_inet_echo("tcp://127.0.0.1:0", [](const std::string& port) {
    expect_client_echo({"nc", "-N", "127.0.0.1", port}, "hello from nc over tcp\n");
  });
}

TEST(CliEcho, AnswersSocatOverUnix) {
  REQUIRE_PROGRAM("socat");
  with_unix_echo("unix:", [](const std::string& path) {
    expect_client_echo({"socat", "-t", "5", "-", "UNIX-CONNECT:" + path}, "hello from socat\n");
  });
}

TEST(CliEcho, AnswersSocatOverTcp) {
  REQUIRE_PROGRAM("socat");
  with_inet_echo("tcp://127.0.0.1:0", [](const std::string& port) {
    expect_client_echo({"socat", "-t", "5", "-", "TCP:127.0.0.1:" + port}, "hello from socat over tcp\n");
  });
}

TEST(CliEcho, AnswersSocatOverUdp) {
  REQUIRE_PROGRAM("socat");
  with_inet_echo("udp://127.0.0.1:0", [](const std::string& port) {
    expect_client_echo({"socat", "-t", "0.2", "-", "UDP:127.0.0.1:" + port}, "hello from socat over udp\n",
                       /*datagram=*/true);
  });
}

TEST(CliEcho, AnswersNcatOverUnix) {
  REQUIRE_PROGRAM("ncat");
  with_unix_echo("unix:", [](const std::string& path) {
    expect_client_echo({"ncat", "-U", path}, "hello from ncat\n");
  });
}

TEST(CliEcho, AnswersNcatOverTcp) {
  REQUIRE_PROGRAM("ncat");
  with_inet_echo("tcp://127.0.0.1:0", [](const std::string& port) {
    expect_client_echo({"ncat", "127.0.0.1", port}, "hello from ncat over tcp\n");
  });
}

TEST(CliEcho, AnswersNcatOverUdp) {
  REQUIRE_PROGRAM("ncat");
  with_inet_echo("udp://127.0.0.1:0", [](const std::string& port) {
    expect_client_echo({"ncat", "-u", "127.0.0.1", port}, "hello from ncat over udp\n", /*datagram=*/true);
  });
}

// `sockit listen` with its answer ready on stdin, and a peer tool as the client:
// each side must receive exactly what the other sent, and both exit 0.
void expect_listen_exchange(
    const std::string& listen_address, std::vector<std::string> client_argv_before_address,
    const std::function<std::vector<std::string>(const std::string&)>& client_target) {
  Process server({sockit_bin(), "listen", listen_address});
  const std::string address = server.listening_address().value_or("");
  ASSERT_FALSE(address.empty()) << server.err();
  server.send("from sockit\n");
  server.close_stdin();

  std::vector<std::string> argv = std::move(client_argv_before_address);
  for (std::string& part : client_target(address)) argv.push_back(std::move(part));
  Process client(std::move(argv));
  client.send("from the client\n");
  Exit client_exit = client.finish();
  EXPECT_EQ(client_exit.code, 0) << client_exit << "\n" << client.err();
  EXPECT_EQ(client.out(), "from sockit\n");

  Exit server_exit = server.finish();
  EXPECT_EQ(server_exit.code, 0) << server_exit << "\n" << server.err();
  EXPECT_EQ(server.out(), "from the client\n");
}

std::string path_of(const std::string& unix_address) {
  return unix_address.substr(unix_address.find(':') + 1);
}

TEST(CliListen, AcceptsSocatAsAUnixClient) {
  REQUIRE_PROGRAM("socat");
  TempDir dir;
  expect_listen_exchange("unix:" + dir.file("l.sock"), {"socat", "-t", "5", "-"}, [](const std::string& a) {
    return std::vector<std::string>{"UNIX-CONNECT:" + path_of(a)};
  });
}

TEST(CliListen, AcceptsSocatAsATcpClient) {
  REQUIRE_PROGRAM("socat");
  expect_listen_exchange("tcp://127.0.0.1:0", {"socat", "-t", "5", "-"}, [](const std::string& a) {
    return std::vector<std::string>{"TCP:127.0.0.1:" + port_of(a)};
  });
}

TEST(CliListen, AcceptsNetcatAsAUnixClient) {
  REQUIRE_PROGRAM("nc");
  TempDir dir;
  expect_listen_exchange("unix:" + dir.file("l.sock"), {"nc", "-N", "-U"},
                         [](const std::string& a) { return std::vector<std::string>{path_of(a)}; });
}

TEST(CliListen, AcceptsNetcatAsATcpClient) {
  REQUIRE_PROGRAM("nc");
  expect_listen_exchange("tcp://127.0.0.1:0", {"nc", "-N", "127.0.0.1"},
                         [](const std::string& a) { return std::vector<std::string>{port_of(a)}; });
}

TEST(CliListen, AcceptsNcatAsATcpClient) {
  REQUIRE_PROGRAM("ncat");
  expect_listen_exchange("tcp://127.0.0.1:0", {"ncat", "127.0.0.1"},
                         [](const std::string& a) { return std::vector<std::string>{port_of(a)}; });
}

}  // namespace
}  // namespace sockit::test::cli
