// `sockit echo` on the net::Server engine (stream addresses), once per event-loop
// backend: against `sockit connect`, OpenBSD netcat, socat and a Python client;
// framing, connection limits, idle timeouts, periodic stats and the final summary.
// Datagram addresses (udp:// v4/v6, unix-dgram: path and abstract) on
// net::DatagramEndpoint, once per backend too: whole datagrams, SO_REUSEPORT
// threads, truncation, senders that are gone or do not read, stats and summary.
// A peer that is not installed is a skip with its name; so is io_uring where the
// kernel refuses it.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "cli_harness.hpp"
#include "support/loop_helpers.hpp"
#include "support/temp_dir.hpp"

namespace sockit::test::cli {
namespace {

#define REQUIRE_PROGRAM(name)                    \
  if (!have_program(name)) {                     \
    GTEST_SKIP() << name << " is not installed"; \
  }

// One Python client, several behaviours (argv: unix|tcp, path-or-port, mode).
// Every socket operation has a timeout, so a broken server fails the test, not hangs it.
constexpr const char* kPythonClient = R"(
import os, random, socket, struct, sys, time
family, target, mode = sys.argv[1], sys.argv[2], sys.argv[3]
def connect():
    if family == 'unix':
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(8)
        s.connect(target)
    else:
        s = socket.create_connection(('127.0.0.1', int(target)), timeout=8)
    return s
def read_exactly(s, n):
    # A reset ends the data like an end of stream: the caller compares what came back.
    data = b''
    try:
        while len(data) < n:
            chunk = s.recv(n - len(data))
            if not chunk:
                break
            data += chunk
    except ConnectionResetError:
        pass
    return data
def send_in_pieces(s, data):
    # Odd-sized pieces with pauses: frames arrive split across receives.
    for i in range(0, len(data), 997):
        s.sendall(data[i:i + 997])
        if i < 5000:
            time.sleep(0.001)
def closed_by_server(s):
    try:
        return s.recv(1) == b''
    except (ConnectionResetError, BrokenPipeError):
        return True
s = connect()
if mode == 'raw':
    data = random.Random(7).randbytes(300 * 1024)
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    back = read_exactly(s, len(data) + 1)
    print('ok' if back == data else 'mismatch: %d bytes back of %d' % (len(back), len(data)))
elif mode == 'length':
    payloads = [b'', b'a', b'hello', b'x' * 1000, random.Random(3).randbytes(70000)]
    wire = b''.join(struct.pack('>I', len(p)) + p for p in payloads)
    send_in_pieces(s, wire)
    back = read_exactly(s, len(wire))
    print('ok' if back == wire else 'mismatch: %d bytes back of %d' % (len(back), len(wire)))
elif mode == 'line':
    wire = b'first\nsecond line\n\n' + b'y' * 5000 + b'\nlast\n'
    try:
        send_in_pieces(s, wire)
    except (ConnectionResetError, BrokenPipeError):
        pass  # the server closed us (a line over --max-frame): what came back tells
    back = read_exactly(s, len(wire))
    print('ok' if back == wire else 'mismatch: %d bytes back of %d' % (len(back), len(wire)))
elif mode == 'idle':
    s.sendall(b'ping')
    assert read_exactly(s, 4) == b'ping'
    start = time.monotonic()
    print('closed' if closed_by_server(s) else 'got data', round(time.monotonic() - start, 1))
elif mode == 'hold':
    s.sendall(b'held\n')
    assert read_exactly(s, 5) == b'held\n'
    print('ready', flush=True)
    sys.stdin.read()
elif mode == 'refused':
    try:
        s.sendall(b'x')
    except (ConnectionResetError, BrokenPipeError):
        pass
    print('refused' if closed_by_server(s) else 'served')
)";

// Text large enough to take several receives (and to need the client to read while
// it writes), with line numbers so a reordering would show.
std::string bulk_text() {
  std::string text;
  for (int i = 0; text.size() < 200 * 1024; ++i) text += "line " + std::to_string(i) + " of the echo test\n";
  return text;
}

// Runs a client with `input` on stdin (then EOF) and expects `input` back, exit 0.
// stdin is a file, not our pipe: writing 200 KiB into a pipe while not reading the
// child's stdout would deadlock the test against the client's own backpressure.
void expect_client_echo(std::vector<std::string> argv, const std::string& input) {
  TempDir dir;
  const std::string input_path = dir.file("input");
  std::ofstream(input_path, std::ios::binary) << input;
  Process client(std::move(argv), {.stdin_file = input_path});
  ASSERT_TRUE(client.started());
  Exit exit = client.finish(30s);
  EXPECT_EQ(exit.code, 0) << exit << "\n" << client.err();
  EXPECT_EQ(client.out().size(), input.size());
  EXPECT_TRUE(client.out() == input) << "the echo differs from what was sent";
}

// Runs the Python client in `mode`; returns its stdout (after checking exit 0).
std::string run_python(const std::string& family, const std::string& target, const std::string& mode) {
  Process client({"python3", "-c", kPythonClient, family, target, mode});
  Exit exit = client.finish(15s);
  EXPECT_EQ(exit.code, 0) << exit << "\n" << client.err();
  return client.out();
}

// A test run once per backend (the parameter): `--backend B` plus more flags.
class CliEchoPerBackend : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    // The server runs in a child, but the kernel that refuses io_uring to us refuses
    // it to the child too: make_loop_or_skip records the skip with the kernel's reason.
    if (GetParam() == "io_uring") (void)make_loop_or_skip({.backend = GetParam()});
  }

  std::vector<std::string> flags(std::vector<std::string> more = {}) const {
    std::vector<std::string> all = {"--backend", GetParam()};
    all.insert(all.end(), more.begin(), more.end());
    return all;
  }
};

class CliEchoBackend : public CliEchoPerBackend {
 protected:

  // A Unix path server and a TCP one, each checked by `check(server, family, target)`
  // (target: the socket path or the port), then stopped cleanly.
  template <typename Check>
  void on_unix_and_tcp(std::vector<std::string> extra, Check check) {
    TempDir dir;
    const std::string path = dir.file("echo.sock");
    for (const std::string& family : {std::string("unix"), std::string("tcp")}) {
      SCOPED_TRACE(family);
      EchoServer server(family == "unix" ? "unix:" + path : "tcp://127.0.0.1:0", flags(extra));
      ASSERT_FALSE(server.address.empty()) << server.child.err();
      check(server, family, family == "unix" ? path : port_of(server.address));
      Exit stopped = server.stop();
      EXPECT_EQ(stopped.code, 0) << stopped << "\n" << server.child.err();
      EXPECT_NE(server.child.err().find("backend " + GetParam() + ","), std::string::npos)
          << server.child.err();
    }
  }
};

TEST_P(CliEchoBackend, EchoesEveryByteToSockitConnect) {
  const std::string input = bulk_text();
  on_unix_and_tcp({}, [&](EchoServer& server, const std::string&, const std::string&) {
    expect_client_echo({sockit_bin(), "connect", server.address}, input);
  });
}

TEST_P(CliEchoBackend, EchoesEveryByteToNetcat) {
  REQUIRE_PROGRAM("nc");
  const std::string input = bulk_text();
  on_unix_and_tcp({}, [&](EchoServer&, const std::string& family, const std::string& target) {
    if (family == "unix") {
      expect_client_echo({"nc", "-N", "-U", target}, input);
    } else {
      expect_client_echo({"nc", "-N", "127.0.0.1", target}, input);
    }
  });
}

TEST_P(CliEchoBackend, EchoesEveryByteToSocat) {
  REQUIRE_PROGRAM("socat");
  const std::string input = bulk_text();
  on_unix_and_tcp({}, [&](EchoServer&, const std::string& family, const std::string& target) {
    expect_client_echo(
        {"socat", "-t", "5", "-", (family == "unix" ? "UNIX-CONNECT:" : "TCP:127.0.0.1:") + target}, input);
  });
}

TEST_P(CliEchoBackend, EchoesRandomBytesToAPythonClient) {
  REQUIRE_PROGRAM("python3");
  on_unix_and_tcp({}, [](EchoServer&, const std::string& family, const std::string& target) {
    EXPECT_EQ(run_python(family, target, "raw"), "ok\n");
  });
}

TEST_P(CliEchoBackend, EchoesLengthPrefixedFramesFramedTheSameWay) {
  REQUIRE_PROGRAM("python3");
  on_unix_and_tcp({"--framing", "length"},
                  [](EchoServer& server, const std::string& family, const std::string& target) {
                    EXPECT_EQ(run_python(family, target, "length"), "ok\n");
                    (void)server;
                  });
}

TEST_P(CliEchoBackend, EchoesLinesOneMessageEach) {
  REQUIRE_PROGRAM("python3");
  TempDir dir;
  EchoServer server("unix:" + dir.file("lines.sock"), flags({"--framing", "line", "--max-frame", "8192"}));
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  EXPECT_EQ(run_python("unix", dir.file("lines.sock"), "line"), "ok\n");
  ASSERT_EQ(server.stop().code, 0) << server.child.err();
  // first, second line, the empty line, 5000 y's, last: five messages each way.
  EXPECT_NE(server.child.err().find("messages: 5 in, 5 out"), std::string::npos) << server.child.err();
}

TEST_P(CliEchoBackend, ClosesALineLongerThanMaxFrame) {
  REQUIRE_PROGRAM("python3");
  TempDir dir;
  // The client's 5000-byte line is over the limit: its connection is closed, not echoed.
  EchoServer server("unix:" + dir.file("short.sock"), flags({"--framing", "line", "--max-frame", "1000"}));
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  EXPECT_NE(run_python("unix", dir.file("short.sock"), "line"), "ok\n");
  ASSERT_EQ(server.stop().code, 0) << server.child.err();
  EXPECT_NE(server.child.err().find("1 on protocol error (--max-frame), 0 on other error"), std::string::npos)
      << server.child.err();
}

TEST_P(CliEchoBackend, RefusesTheClientOverMaxConns) {
  REQUIRE_PROGRAM("python3");
  on_unix_and_tcp({"--max-conns", "1"},
                  [](EchoServer& server, const std::string& family, const std::string& target) {
                    Process first({"python3", "-c", kPythonClient, family, target, "hold"});
                    ASSERT_TRUE(first.wait_for_out("ready\n")) << first.err();
                    EXPECT_EQ(run_python(family, target, "refused"), "refused\n");
                    EXPECT_EQ(first.finish().code, 0) << first.err();
                    (void)server;
                  });
}

TEST_P(CliEchoBackend, RefusesASecondConnectionFromTheSamePeerOverMaxConnsPerPeer) {
  REQUIRE_PROGRAM("python3");
  TempDir dir;
  const std::string path = dir.file("peer.sock");
  EchoServer server("unix:" + path, flags({"--max-conns-per-peer", "1"}));  // Unix: per uid
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  Process first({"python3", "-c", kPythonClient, "unix", path, "hold"});
  ASSERT_TRUE(first.wait_for_out("ready\n")) << first.err();
  EXPECT_EQ(run_python("unix", path, "refused"), "refused\n");
  EXPECT_EQ(first.finish().code, 0) << first.err();
  ASSERT_EQ(server.stop().code, 0) << server.child.err();
  EXPECT_NE(server.child.err().find("1 over --max-conns-per-peer"), std::string::npos) << server.child.err();
}

TEST_P(CliEchoBackend, DropsAClientIdleLongerThanIdleTimeout) {
  REQUIRE_PROGRAM("python3");
  TempDir dir;
  const std::string path = dir.file("idle.sock");
  EchoServer server("unix:" + path, flags({"--idle-timeout", "0.3"}));
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  // The client waits up to 8 s; the server must cut it off long before that.
  const std::string out = run_python("unix", path, "idle");
  EXPECT_EQ(out.rfind("closed ", 0), 0u) << out;
  ASSERT_EQ(server.stop().code, 0) << server.child.err();
  EXPECT_NE(server.child.err().find("1 idle (--idle-timeout)"), std::string::npos) << server.child.err();
}

TEST_P(CliEchoBackend, PrintsAStatsLineEveryInterval) {
  EchoServer server("tcp://127.0.0.1:0", flags({"--stats-interval", "0.1"}));
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  expect_client_echo({sockit_bin(), "connect", server.address}, "counted\n");
  // Once the client has gone its connection and bytes are counted, and the lines go on.
  EXPECT_TRUE(
      server.child.wait_for_err("sockit: stats: 0 active, 1 accepted, 0 refused, 0 shed, 8 bytes in, "
                                "8 bytes out, 1 message in, 1 message out, 0 closed on protocol error\n"))
      << server.child.err();
  EXPECT_TRUE(server.child.wait_for_err_times("sockit: stats: ", 3)) << server.child.err();
  ASSERT_EQ(server.stop().code, 0) << server.child.err();
}

TEST_P(CliEchoBackend, PrintsTheFinalStatsOnSigintAndRemovesItsSocketFile) {
  TempDir dir;
  const std::string path = dir.file("final.sock");
  EchoServer server("unix:" + path, flags());
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  EXPECT_TRUE(std::filesystem::exists(path));
  expect_client_echo({sockit_bin(), "connect", server.address}, "twelve bytes");

  Exit exit = server.stop();
  EXPECT_EQ(exit.code, 0) << exit;
  EXPECT_FALSE(std::filesystem::exists(path));
  const std::string& err = server.child.err();
  EXPECT_NE(
      err.find(
          "sockit: echo stopped by SIGINT: 1 connection, 12 bytes in, 12 bytes out\n"
          "sockit:   backend " +
          GetParam() +
          ", 1 thread\n"
          "sockit:   refused: 0 over --max-conns, 0 over --max-conns-per-peer; 0 shed (out of descriptors)\n"
          "sockit:   closed: 1 by peer, 0 idle (--idle-timeout), 0 on protocol error (--max-frame), "
          "0 on other error, 0 at shutdown\n"
          "sockit:   messages: 1 in, 1 out\n"),
      std::string::npos)
      << err;
  // Then the features the backend could not use, as this machine's loop reports
  // them (a server's worker loops each stay on one thread), and last what the
  // loops did: one wait at least, the one connection's receive armed on io_uring.
  auto loop = event::EventLoop::create({.backend = GetParam(), .io_uring_single_thread = true});
  ASSERT_TRUE(loop);
  std::string fallbacks;
  for (const std::string& f : (*loop)->backend().fallbacks) fallbacks += (fallbacks.empty() ? "" : "; ") + f;
  // (engine internals: printed with -v only, which this run does not have).
  (void)fallbacks;
  const std::string after_messages = "sockit:   messages: 1 in, 1 out\n";
  EXPECT_EQ(err.find("fallbacks"), std::string::npos) << err;
  const auto engine_line = err.find(after_messages + "sockit:   engine: ");
  ASSERT_NE(engine_line, std::string::npos) << err;
  unsigned long waits = 0, armed = 0, empty = 0, overflow = 0;
  double per_wait = 0;
  ASSERT_EQ(std::sscanf(err.c_str() + engine_line + after_messages.size(),
                        "sockit:   engine: %lu waits, %lf events per wait, %lu receives armed, %lu buffer-ring "
                        "empty, %lu CQ overflow",
                        &waits, &per_wait, &armed, &empty, &overflow),
            5)
      << err;
  EXPECT_GE(waits, 1u);
  EXPECT_GT(per_wait, 0.0);
  if (GetParam() == "io_uring") {
    EXPECT_GE(armed, 1u) << "the connection's receive, at least";
  } else {
    EXPECT_EQ(armed, 0u) << "only io_uring arms receive requests";
  }
  EXPECT_EQ(empty, 0u);
  EXPECT_EQ(overflow, 0u);
}

TEST_P(CliEchoBackend, ClosesConnectionsStillOpenAtSigint) {
  REQUIRE_PROGRAM("python3");
  TempDir dir;
  const std::string path = dir.file("open.sock");
  EchoServer server("unix:" + path, flags());
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  Process held({"python3", "-c", kPythonClient, "unix", path, "hold"});
  ASSERT_TRUE(held.wait_for_out("ready\n")) << held.err();
  Exit exit = server.stop();  // within the 2 s grace, then reset
  EXPECT_EQ(exit.code, 0) << exit << "\n" << server.child.err();
  EXPECT_NE(server.child.err().find("1 at shutdown"), std::string::npos) << server.child.err();
  EXPECT_EQ(held.finish().code, 0) << held.err();
}

TEST_P(CliEchoBackend, ServesTcpOnSeveralThreads) {
  EchoServer server("tcp://127.0.0.1:0", flags({"--threads", "3"}));
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  for (int i = 0; i < 6; ++i) {
    expect_client_echo({sockit_bin(), "connect", server.address}, "client " + std::to_string(i) + "\n");
  }
  ASSERT_EQ(server.stop().code, 0) << server.child.err();
  EXPECT_NE(server.child.err().find("6 connections"), std::string::npos) << server.child.err();
  EXPECT_NE(server.child.err().find(", 3 threads"), std::string::npos) << server.child.err();
}

// unix-seqpacket runs on the same Server: every backend, several threads, the
// stream options but --framing, and each record comes back as one record, whole.
constexpr const char* kPythonSeqpacketClient = R"(
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.settimeout(8)
s.connect(sys.argv[1])
sizes = []
for size in (0, 1, 300, 65537, 90000):
    s.send(bytes([size % 251]) * size)
    back = s.recv(200000)
    sizes.append(str(len(back)) if back == bytes([size % 251]) * size else 'bad')
burst = [b'burst %d' % i for i in range(50)]
for r in burst:
    s.send(r)
print(' '.join(sizes), 'burst ok' if [s.recv(100) for _ in burst] == burst else 'burst merged')
s.send(b'o' * 150000)  # over --max-frame: the server closes this connection
try:
    print('closed' if s.recv(200000) == b'' else 'echoed')
except ConnectionResetError:
    print('closed')
)";

TEST_P(CliEchoBackend, EchoesSeqpacketRecordsWholeOnTheServer) {
  REQUIRE_PROGRAM("python3");
  TempDir dir;
  const std::string path = dir.file("records.sock");
  EchoServer server("unix-seqpacket:" + path,
                    flags({"--threads", "2", "--max-frame", "100000", "--max-conns-per-peer", "4",
                           "--idle-timeout", "30", "--stats-interval", "60"}));
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  Process client({"python3", "-c", kPythonSeqpacketClient, path});
  Exit exit = client.finish(15s);
  EXPECT_EQ(exit.code, 0) << exit << "\n" << client.err();
  EXPECT_EQ(client.out(), "0 1 300 65537 90000 burst ok\nclosed\n");
  Exit stopped = server.stop();
  EXPECT_EQ(stopped.code, 0) << stopped << "\n" << server.child.err();
  const std::string& err = server.child.err();
  EXPECT_NE(err.find("sockit: echo stopped by SIGINT: 1 connection, "), std::string::npos) << err;
  EXPECT_NE(err.find("backend " + GetParam() + ", 2 threads\n"), std::string::npos) << err;
  EXPECT_NE(
      err.find("0 by peer, 0 idle (--idle-timeout), 1 on protocol error (--max-frame), 0 on other error"),
      std::string::npos)
      << err;
  EXPECT_NE(err.find("messages: 55 in, 55 out\n"), std::string::npos) << err;
  EXPECT_FALSE(std::filesystem::exists(path));
}

INSTANTIATE_TEST_SUITE_P(Backends, CliEchoBackend, ::testing::ValuesIn(backends_under_test()),
                         backend_param_name);

// --- datagrams (udp://, unix-dgram:) on net::DatagramEndpoint, once per backend ----

// One Python datagram client, several behaviours (argv: kind, target, mode), kind
// udp4|udp6 (target: the port), unix (the path) or abstract (the name). Unix
// clients autobind, so the server has an address to answer. Every receive has a
// timeout, so a broken server fails the test instead of hanging it.
constexpr const char* kPythonDatagramClient = R"(
import os, socket, sys, tempfile
kind, target, mode = sys.argv[1], sys.argv[2], sys.argv[3]
dest = target if kind == 'unix' else '\0' + target
def client():
    if kind == 'udp4':
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect(('127.0.0.1', int(target)))
    elif kind == 'udp6':
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.connect(('::1', int(target)))
    else:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind('')
        s.connect(dest)
    s.settimeout(8)
    return s
def pattern(n, seed):
    return bytes((seed + i) % 251 for i in range(n))
if mode == 'echo':
    s = client()
    sizes = []
    for n in (0, 1, 300, 1400, 60000):
        s.send(pattern(n, n))
        back = s.recv(100000)
        sizes.append(str(len(back)) if back == pattern(n, n) else 'bad')
    burst = [b'burst %d' % i for i in range(30)]
    for d in burst:
        s.send(d)
    print(' '.join(sizes), 'burst ok' if [s.recv(100) for _ in burst] == burst else 'burst differs')
elif mode == 'many':
    # 24 senders (24 source ports), 10 rounds of one datagram each in flight.
    senders = [client() for _ in range(24)]
    ok = True
    for j in range(10):
        for i, s in enumerate(senders):
            s.send(b'%d:%d' % (i, j))
        for i, s in enumerate(senders):
            ok = ok and s.recv(100) == b'%d:%d' % (i, j)
    print('ok' if ok else 'lost or mixed')
elif mode == 'oversize':
    s = client()
    big = pattern(70000 if kind in ('unix', 'abstract') else 2000, 7)
    s.send(big)
    s.send(b'after')
    got = []
    try:
        while len(got) < 2:
            back = s.recv(100000)
            got.append('big' if back == big else back.decode() if len(back) < 100 else 'bad')
            s.settimeout(0.5)
    except socket.timeout:
        pass
    print(' '.join(got))
elif mode == 'stall':
    # An unconnected sender that never reads: once its queue is full its replies are
    # dropped, and another client's echo is not held up behind them.
    stuck = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    stuck.bind('')
    stuck.settimeout(8)
    for i in range(50):
        stuck.sendto(b'stuck %d' % i, dest)
    s = client()
    s.send(b'not held up')
    print(s.recv(100).decode())
elif mode == 'gone':
    # Senders that are gone before the (stopped) server reads: a Unix path that was
    # removed (ENOENT), an autobound name that was closed (ECONNREFUSED), an unbound
    # socket (no address at all); for UDP a closed port.
    if kind in ('udp4', 'udp6'):
        s = client()
        for _ in range(3):
            s.send(b'gone')
        s.close()
    else:
        d = tempfile.mkdtemp()
        path = os.path.join(d, 'gone.sock')
        named = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        named.bind(path)
        auto = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        auto.bind('')
        unnamed = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        for s in (named, auto, unnamed):
            s.settimeout(8)
        for _ in range(3):
            named.sendto(b'named', dest)
            auto.sendto(b'auto', dest)
        unnamed.sendto(b'unnamed', dest)
        for s in (named, auto, unnamed):
            s.close()
        os.unlink(path)
        os.rmdir(d)
    print('sent')
)";

// True when the machine has no IPv6 loopback (a container without ::1).
bool ipv6_unavailable(const std::string& err) {
  return err.find("cannot assign requested address") != std::string::npos ||
         err.find("address family not supported") != std::string::npos;
}

std::string run_datagram_client(const std::string& kind, const std::string& target, const std::string& mode) {
  Process client({"python3", "-c", kPythonDatagramClient, kind, target, mode});
  Exit exit = client.finish(20s);
  EXPECT_EQ(exit.code, 0) << exit << "\n" << client.err();
  return client.out();
}

class CliEchoDatagram : public CliEchoPerBackend {
 protected:

  // A server of each kind (udp4, udp6, unix path, abstract), each checked by
  // `check(server, kind, target)` (target: port, path or name), then stopped with
  // SIGINT: exit 0, the backend named, a Unix socket file removed.
  template <typename Check>
  void on_every_kind(std::vector<std::string> extra, Check check) {
    TempDir dir;
    const std::string path = dir.file("echo.sock");
    const std::string name = unique_abstract_name();
    for (const std::string kind : {"udp4", "udp6", "unix", "abstract"}) {
      SCOPED_TRACE(kind);
      const std::string address = kind == "udp4"   ? "udp://127.0.0.1:0"
                                  : kind == "udp6" ? "udp://[::1]:0"
                                  : kind == "unix" ? "unix-dgram:" + path
                                                   : "unix-dgram:@" + name;
      EchoServer server(address, flags(extra));
      if (kind == "udp6" && server.address.empty() && ipv6_unavailable(server.child.err())) continue;
      ASSERT_FALSE(server.address.empty()) << server.child.err();
      const std::string target = kind.starts_with("udp") ? port_of(server.address)
                                 : kind == "unix"        ? path
                                                         : name;
      check(server, kind, target);
      Exit stopped = server.stop();
      EXPECT_EQ(stopped.code, 0) << stopped << "\n" << server.child.err();
      EXPECT_NE(server.child.err().find("sockit:   backend " + GetParam() + ", "), std::string::npos)
          << server.child.err();
      EXPECT_FALSE(std::filesystem::exists(path));
    }
  }
};

TEST_P(CliEchoDatagram, EchoesEveryDatagramWholeToItsSender) {
  REQUIRE_PROGRAM("python3");
  on_every_kind({}, [](EchoServer&, const std::string& kind, const std::string& target) {
    EXPECT_EQ(run_datagram_client(kind, target, "echo"), "0 1 300 1400 60000 burst ok\n");
  });
}

TEST_P(CliEchoDatagram, EchoesToSockitConnect) {
  on_every_kind({}, [](EchoServer& server, const std::string&, const std::string&) {
    Process client({sockit_bin(), "connect", server.address, "--wait", "0.5"});
    client.send("hello\nworld\n");
    EXPECT_TRUE(client.wait_for_out("hello\nworld\n")) << client.err();
    Exit exit = client.finish();
    EXPECT_EQ(exit.code, 0) << exit << "\n" << client.err();
    EXPECT_EQ(client.out(), "hello\nworld\n");
  });
}

TEST_P(CliEchoDatagram, ServesManyUdpSendersOnSeveralThreads) {
  REQUIRE_PROGRAM("python3");
  EchoServer server("udp://127.0.0.1:0", flags({"--threads", "2"}));
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  EXPECT_EQ(run_datagram_client("udp4", port_of(server.address), "many"), "ok\n");
  Exit stopped = server.stop();
  EXPECT_EQ(stopped.code, 0) << stopped << "\n" << server.child.err();
  // 24 senders x 10 datagrams of 3 ("0:0") to 4 ("23:9") bytes.
  const std::string& err = server.child.err();
  EXPECT_NE(err.find("sockit: echo stopped by SIGINT: 240 datagrams, 860 bytes in, 860 bytes out\n"),
            std::string::npos)
      << err;
  // SO_REUSEPORT spread the 24 senders over both threads (all on one: odds of 2 in 2^24).
  const std::string prefix = "sockit:   backend " + GetParam() + ", 2 threads (";
  const auto at = err.find(prefix);
  ASSERT_NE(at, std::string::npos) << err;
  unsigned first = 0;
  unsigned second = 0;
  ASSERT_EQ(std::sscanf(err.c_str() + at + prefix.size(), "%u + %u datagrams)\n", &first, &second), 2) << err;
  EXPECT_EQ(first + second, 240u) << err;
  EXPECT_GT(first, 0u) << err;
  EXPECT_GT(second, 0u) << err;
}

TEST_P(CliEchoDatagram, CountsADatagramOverMaxFrameAsTruncatedAndGoesOn) {
  REQUIRE_PROGRAM("python3");
  TempDir dir;
  const std::string path = dir.file("big.sock");
  {
    // Default --max-frame (64 KiB): the 70,000-byte datagram is counted, not echoed.
    EchoServer server("unix-dgram:" + path, flags());
    ASSERT_FALSE(server.address.empty()) << server.child.err();
    EXPECT_EQ(run_datagram_client("unix", path, "oversize"), "after\n");
    ASSERT_EQ(server.stop().code, 0) << server.child.err();
    EXPECT_NE(
        server.child.err().find("sockit: echo stopped by SIGINT: 1 datagram, 5 bytes in, 5 bytes out\n"),
        std::string::npos)
        << server.child.err();
    EXPECT_NE(
        server.child.err().find("datagrams: 1 in, 1 out, 1 truncated (over --max-frame 65536), 0 dropped"),
        std::string::npos)
        << server.child.err();
  }
  {
    // A larger --max-frame echoes it whole.
    EchoServer server("unix-dgram:" + path, flags({"--max-frame", "80000"}));
    ASSERT_FALSE(server.address.empty()) << server.child.err();
    EXPECT_EQ(run_datagram_client("unix", path, "oversize"), "big after\n");
    ASSERT_EQ(server.stop().code, 0) << server.child.err();
    EXPECT_NE(server.child.err().find("0 truncated (over --max-frame 80000)"), std::string::npos)
        << server.child.err();
  }
  {
    // And a smaller one truncates UDP datagrams too (2,000 bytes here).
    EchoServer server("udp://127.0.0.1:0", flags({"--max-frame", "1000"}));
    ASSERT_FALSE(server.address.empty()) << server.child.err();
    EXPECT_EQ(run_datagram_client("udp4", port_of(server.address), "oversize"), "after\n");
    ASSERT_EQ(server.stop().code, 0) << server.child.err();
    EXPECT_NE(server.child.err().find("1 truncated (over --max-frame 1000)"), std::string::npos)
        << server.child.err();
  }
}

TEST_P(CliEchoDatagram, CountsRepliesToSendersThatAreGoneAndGoesOn) {
  REQUIRE_PROGRAM("python3");
  on_every_kind({}, [](EchoServer& server, const std::string& kind, const std::string& target) {
    // Stopped, the server reads nothing until the senders are gone; then each
    // reply fails (or, for UDP, goes to a closed port) and the echo goes on.
    server.child.signal(SIGSTOP);
    const std::string sent = run_datagram_client(kind, target, "gone");
    server.child.signal(SIGCONT);
    EXPECT_EQ(sent, "sent\n");
    EXPECT_EQ(run_datagram_client(kind, target, "echo"), "0 1 300 1400 60000 burst ok\n");
    server.child.signal(SIGINT);
    Exit stopped = server.child.finish();
    EXPECT_EQ(stopped.code, 0) << stopped << "\n" << server.child.err();
    // Unix: 3 to a removed path, 3 to a closed name, 1 from an unbound socket.
    const std::string dropped = kind.starts_with("udp") ? "0 dropped\n" : "7 dropped\n";
    EXPECT_NE(server.child.err().find(", 0 truncated (over --max-frame 65536), " + dropped),
              std::string::npos)
        << server.child.err();
  });
}

TEST_P(CliEchoDatagram, DoesNotLetAUnixClientThatDoesNotReadHoldUpTheOthers) {
  REQUIRE_PROGRAM("python3");
  TempDir dir;
  const std::string path = dir.file("stall.sock");
  EchoServer server("unix-dgram:" + path, flags());
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  EXPECT_EQ(run_datagram_client("unix", path, "stall"), "not held up\n");
  ASSERT_EQ(server.stop().code, 0) << server.child.err();
  // 51 in; the stuck client's queue took a few (net.unix.max_dgram_qlen), the rest dropped.
  const std::string& err = server.child.err();
  EXPECT_NE(err.find("sockit: echo stopped by SIGINT: 51 datagrams, "), std::string::npos) << err;
  EXPECT_EQ(err.find(", 0 dropped\n"), std::string::npos) << err;
}

TEST_P(CliEchoDatagram, PrintsAStatsLineEveryInterval) {
  EchoServer server("udp://127.0.0.1:0", flags({"--stats-interval", "0.1"}));
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  Process client({sockit_bin(), "connect", server.address, "--wait", "0.5"});
  client.send("counted\n");
  EXPECT_TRUE(client.wait_for_out("counted\n")) << client.err();
  EXPECT_EQ(client.finish().code, 0) << client.err();
  EXPECT_TRUE(
      server.child.wait_for_err("sockit: stats: 1 datagram in, 1 datagram out, 8 bytes in, 8 bytes out, "
                                "0 truncated, 0 dropped\n"))
      << server.child.err();
  EXPECT_TRUE(server.child.wait_for_err_times("sockit: stats: ", 3)) << server.child.err();
  ASSERT_EQ(server.stop().code, 0) << server.child.err();
}

TEST_P(CliEchoDatagram, PrintsTheFinalSummaryOnSigintAndRemovesItsSocketFile) {
  TempDir dir;
  const std::string path = dir.file("final.sock");
  EchoServer server("unix-dgram:" + path, flags());
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  EXPECT_TRUE(std::filesystem::exists(path));
  Process client({sockit_bin(), "connect", server.address, "--wait", "0.5"});
  client.send("six b\n");
  EXPECT_TRUE(client.wait_for_out("six b\n")) << client.err();
  client.send("six c\n");
  EXPECT_TRUE(client.wait_for_out("six c\n")) << client.err();
  EXPECT_EQ(client.finish().code, 0) << client.err();

  Exit exit = server.stop();
  EXPECT_EQ(exit.code, 0) << exit;
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_NE(server.child.err().find("sockit: echo stopped by SIGINT: 2 datagrams, 12 bytes in, 12 bytes out\n"
                                    "sockit:   backend " +
                                    GetParam() +
                                    ", 1 thread\n"
                                    "sockit:   datagrams: 2 in, 2 out, 0 truncated (over --max-frame 65536), "
                                    "0 dropped\n"),
            std::string::npos)
      << server.child.err();
}

INSTANTIATE_TEST_SUITE_P(Backends, CliEchoDatagram, ::testing::ValuesIn(backends_under_test()),
                         backend_param_name);

}  // namespace
}  // namespace sockit::test::cli

namespace sockit::test::cli {
namespace {

// A wildcard bind exposes the port to other hosts: said aloud, once, after the
// listening line; loopback (and a missing host, which means loopback) is quiet.
TEST(CliEcho, AWildcardBindIsWarnedAboutAndLoopbackIsNot) {
  EchoServer wildcard("tcp://0.0.0.0:0");
  ASSERT_FALSE(wildcard.address.empty()) << wildcard.child.err();
  EXPECT_EQ(wildcard.stop().code, 0);
  EXPECT_NE(wildcard.child.err().find("sockit: warning: 0.0.0.0 is every network interface"), std::string::npos)
      << wildcard.child.err();

  EchoServer loopback("tcp://:0");
  ASSERT_FALSE(loopback.address.empty()) << loopback.child.err();
  EXPECT_EQ(loopback.stop().code, 0);
  EXPECT_EQ(loopback.child.err().find("warning"), std::string::npos) << loopback.child.err();
}

}  // namespace
}  // namespace sockit::test::cli
