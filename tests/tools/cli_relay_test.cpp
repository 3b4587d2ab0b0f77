// `sockit relay FROM TO` against `sockit echo` as the upstream server: streams
// between pairs of families with concurrent clients, byte-exact both ways and
// half-close; datagrams with replies; injected loss, delay, reset and stall;
// options that do not apply.
#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <vector>

#include "cli_harness.hpp"
#include "support/temp_dir.hpp"

namespace sockit::test::cli {
namespace {

// argv: mode, target, more. Every socket operation has a timeout.
constexpr const char* kPythonClient = R"(
import random, socket, sys, threading, time
mode, target = sys.argv[1], sys.argv[2]
def stream(target):
    if target.startswith('tcp://'):
        host, port = target[6:].rsplit(':', 1)
        return socket.create_connection((host, int(port)), timeout=20)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20)
    path = target[len('unix:'):]
    s.connect('\0' + path[1:] if path.startswith('@') else path)
    return s
def udp(target):
    host, port = target[6:].rsplit(':', 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(5)
    s.connect((host, int(port)))
    return s
def read_all(s):
    data = bytearray()
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return bytes(data), 'eof'
            data += chunk
    except ConnectionResetError:
        return bytes(data), 'reset'
    except socket.timeout:
        return bytes(data), 'timeout'
if mode == 'bulk':
    # Several clients at once; each sends 1 MiB while reading, then half-closes;
    # the echo must come back whole and end with an end of stream.
    clients = int(sys.argv[3])
    results = [None] * clients
    def one(i):
        data = random.Random(i).randbytes(1 << 20)
        s = stream(target)
        sender = threading.Thread(target=lambda: (s.sendall(data), s.shutdown(socket.SHUT_WR)))
        sender.start()
        back, end = read_all(s)
        sender.join()
        results[i] = 'ok' if back == data and end == 'eof' else 'client %d: %d of %d bytes, %s' % (i, len(back), len(data), end)
    threads = [threading.Thread(target=one, args=(i,)) for i in range(clients)]
    for t in threads: t.start()
    for t in threads: t.join()
    print('\n'.join(results))
elif mode == 'limit':
    # Sends 1 MiB (ignoring a reset), reads what comes back and how it ends.
    data = random.Random(9).randbytes(1 << 20)
    try:
        s = stream(target)
    except ConnectionResetError:  # the relay's reset can beat the handshake's end
        print('prefix 0 reset')
        sys.exit(0)
    s.settimeout(float(sys.argv[3]))
    def send():
        try:
            s.sendall(data)
        except (ConnectionResetError, BrokenPipeError, socket.timeout):
            pass
    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    back, end = read_all(s)
    print('prefix' if data.startswith(back) else 'differs', len(back), end)
elif mode == 'datagrams':
    s = udp(target)
    ok = 0
    for i in range(int(sys.argv[3])):
        payload = random.Random(i).randbytes(1 + i * 37 % 1400)
        s.send(payload)
        ok += s.recv(65536) == payload
    print('replies', ok)
elif mode == 'flood':
    # Sends N datagrams, paced so no socket buffer overflows, and drains replies;
    # stays until stdin closes so late replies have somewhere to go. Paced by the
    # replies, not by the clock alone: on a loaded machine the relay or the echo
    # may not run for a while, and a datagram the kernel drops at their full
    # receive queue would be neither relayed nor counted lost. With 10% loss each
    # way about 81% come back: after each burst of 50 it waits (up to 200 ms) until
    # 70% of all sent, less one burst in flight, are back.
    s = udp(target)
    got = [0]
    def drain():
        try:
            while True:
                s.recv(65536)
                got[0] += 1
        except OSError:
            pass
    threading.Thread(target=drain, daemon=True).start()
    for i in range(int(sys.argv[3])):
        s.send(b'%08d' % i)
        if i % 50 == 49:
            time.sleep(0.002)
            until = time.monotonic() + 0.2
            while got[0] < 0.7 * (i + 1) - 50 and time.monotonic() < until:
                time.sleep(0.001)
    print('sent', flush=True)
    sys.stdin.read()
elif mode == 'rtt':
    s = udp(target)
    rtts = []
    for i in range(20):
        start = time.monotonic()
        s.send(b'ping %d' % i)
        assert s.recv(100) == b'ping %d' % i
        rtts.append((time.monotonic() - start) * 1000)
    rtts.sort()
    print('%.3f %.3f' % (rtts[0], rtts[len(rtts) // 2]))
)";

std::string run_python(std::vector<std::string> args, std::chrono::milliseconds timeout = 60s) {
  std::vector<std::string> argv = {"python3", "-c", kPythonClient};
  argv.insert(argv.end(), args.begin(), args.end());
  Process client(argv);
  const Exit exit = client.finish(timeout);
  EXPECT_EQ(exit.code, 0) << exit << "\n" << client.err();
  return client.out();
}

// A `sockit relay FROM TO ...` with its listening address learned.
struct Relay {
  Relay(const std::string& from, const std::string& to, std::vector<std::string> extra = {})
      : child([&] {
          std::vector<std::string> argv = {sockit_bin(), "relay", from, to};
          argv.insert(argv.end(), extra.begin(), extra.end());
          return argv;
        }()) {
    if (child.started()) address = child.listening_address().value_or("");
  }
  Exit stop() {
    child.signal(SIGINT);
    return child.finish();
  }
  Process child;
  std::string address;
};

// Runs `sockit relay` with `args` and expects a usage error naming `why`.
void expect_usage_error(std::vector<std::string> args, const std::string& why) {
  args.insert(args.begin(), "relay");
  const Outcome relay = run_sockit(std::move(args));
  EXPECT_EQ(relay.exit.code, 2) << relay.exit << "\n" << relay.err;
  EXPECT_NE(relay.err.find(why), std::string::npos) << relay.err;
  EXPECT_EQ(relay.err.find("listening on"), std::string::npos) << "it started anyway";
}

// A number before `label` in the last line starting with `prefix`; -1 if none.
long long number_before(const std::string& text, const std::string& prefix, const std::string& label) {
  const auto line_at = text.rfind(prefix);
  if (line_at == std::string::npos) return -1;
  const std::string line = text.substr(line_at, text.find('\n', line_at) - line_at);
  std::smatch m;
  if (!std::regex_search(line, m, std::regex("(\\d+) " + label))) return -1;
  return std::stoll(m[1]);
}

void expect_bulk_through(const std::string& from, const std::string& to_listen) {
  SCOPED_TRACE(from + " -> " + to_listen);
  EchoServer echo(to_listen);
  ASSERT_FALSE(echo.address.empty()) << echo.child.err();
  Relay relay(from, echo.address);
  ASSERT_FALSE(relay.address.empty()) << relay.child.err();
  EXPECT_EQ(run_python({"bulk", relay.address, "4"}), "ok\nok\nok\nok\n");
  const Exit stopped = relay.stop();
  EXPECT_EQ(stopped.code, 0) << stopped << "\n" << relay.child.err();
  EXPECT_EQ(number_before(relay.child.err(), "sockit: relay stopped", "accepted"), 4) << relay.child.err();
  EXPECT_EQ(number_before(relay.child.err(), "sockit: relay stopped", "bytes up"), 4 << 20);
  EXPECT_EQ(number_before(relay.child.err(), "sockit: relay stopped", "bytes down"), 4 << 20);
  EXPECT_EQ(echo.stop().code, 0);
}

TEST(CliRelay, CarriesFourConcurrentClientsByteExactFromTcpToUnixWithHalfClose) {
  TempDir dir;
  expect_bulk_through("tcp://127.0.0.1:0", "unix:" + dir.file("echo.sock"));
}

TEST(CliRelay, CarriesFourConcurrentClientsByteExactFromUnixToTcpWithHalfClose) {
  TempDir dir;
  expect_bulk_through("unix:" + dir.file("relay.sock"), "tcp://127.0.0.1:0");
}

TEST(CliRelay, CarriesFourConcurrentClientsByteExactFromUnixToAbstractWithHalfClose) {
  TempDir dir;
  const std::string name = "sockit-relay-test-" + std::to_string(::getpid());
  expect_bulk_through("unix:" + dir.file("relay.sock"), "unix:@" + name);
}

TEST(CliRelay, ResetsAClientWhoseUpstreamRefusesAndKeepsServing) {
  TempDir dir;
  Relay relay("tcp://127.0.0.1:0", "unix:" + dir.file("nobody.sock"), {"-v"});
  ASSERT_FALSE(relay.address.empty()) << relay.child.err();
  for (int i = 0; i < 2; ++i) {
    const std::string out = run_python({"limit", relay.address, "5"});
    EXPECT_TRUE(out == "prefix 0 reset\n" || out == "prefix 0 eof\n") << out;
  }
  ASSERT_TRUE(relay.child.wait_for_err_times("(client reset)", 2)) << relay.child.err();
  EXPECT_EQ(relay.stop().code, 0);
  EXPECT_EQ(number_before(relay.child.err(), "sockit: relay stopped", "connect failed"), 2) << relay.child.err();
}

TEST(CliRelay, ResetAfterForwardsAPrefixThenResetsBothSides) {
  EchoServer echo("tcp://127.0.0.1:0");
  ASSERT_FALSE(echo.address.empty());
  Relay relay("tcp://127.0.0.1:0", echo.address, {"--reset-after", "100000", "-v"});
  ASSERT_FALSE(relay.address.empty()) << relay.child.err();
  const std::string out = run_python({"limit", relay.address, "10"});
  std::smatch m;
  ASSERT_TRUE(std::regex_match(out, m, std::regex("prefix (\\d+) (reset|eof)\n"))) << out;
  EXPECT_LE(std::stoll(m[1]), 100000);
  EXPECT_EQ(relay.stop().code, 0);
  EXPECT_EQ(number_before(relay.child.err(), "sockit: relay stopped", "reset by --reset-after"), 1)
      << relay.child.err();
  EXPECT_LE(number_before(relay.child.err(), "sockit: relay stopped", "bytes up"), 100000);
}

TEST(CliRelay, StallAfterForwardsExactlyThatManyBytesThenNothingWhileTheConnectionStaysOpen) {
  EchoServer echo("tcp://127.0.0.1:0");
  ASSERT_FALSE(echo.address.empty());
  Relay relay("tcp://127.0.0.1:0", echo.address, {"--stall-after", "65536"});
  ASSERT_FALSE(relay.address.empty()) << relay.child.err();
  // The client reads until 1.5 s pass without a byte: a stall, not an end.
  EXPECT_EQ(run_python({"limit", relay.address, "1.5"}), "prefix 65536 timeout\n");
  EXPECT_EQ(relay.stop().code, 0);
  // Both directions stall: up after 65,536 bytes, and down once their echo came back.
  EXPECT_EQ(number_before(relay.child.err(), "sockit: relay stopped", "stalled by --stall-after"), 2)
      << relay.child.err();
}

void expect_datagram_replies(const std::string& to_listen) {
  SCOPED_TRACE(to_listen);
  EchoServer echo(to_listen);
  ASSERT_FALSE(echo.address.empty()) << echo.child.err();
  Relay relay("udp://127.0.0.1:0", echo.address);
  ASSERT_FALSE(relay.address.empty()) << relay.child.err();
  EXPECT_EQ(run_python({"datagrams", relay.address, "200"}), "replies 200\n");
  EXPECT_EQ(relay.stop().code, 0);
  EXPECT_EQ(number_before(relay.child.err(), "sockit: relay stopped", "datagrams up"), 200) << relay.child.err();
  EXPECT_EQ(number_before(relay.child.err(), "sockit: relay stopped", "clients"), 1);
  EXPECT_EQ(echo.stop().code, 0);
}

TEST(CliRelay, RelaysDatagramsAndTheirRepliesFromUdpToUnixDgram) {
  TempDir dir;
  expect_datagram_replies("unix-dgram:" + dir.file("echo.sock"));
}

TEST(CliRelay, RelaysDatagramsAndTheirRepliesFromUdpToUdp) { expect_datagram_replies("udp://127.0.0.1:0"); }

TEST(CliRelay, LosesTenPercentOfTenThousandDatagramsWithinOnePointWithAFixedSeed) {
  EchoServer echo("udp://127.0.0.1:0");
  ASSERT_FALSE(echo.address.empty());
  Relay relay("udp://127.0.0.1:0", echo.address, {"--loss", "10%", "--seed", "1", "--stats-interval", "0.2"});
  ASSERT_FALSE(relay.address.empty()) << relay.child.err();
  std::vector<std::string> argv = {"python3", "-c", kPythonClient, "flood", relay.address, "10000"};
  Process client(argv);
  ASSERT_TRUE(client.wait_for_out("sent", 30s)) << client.err();
  // Every datagram is accounted for once each one either came back or was lost
  // (each direction draws: lost + down == 10,000 with nothing dropped).
  long long down = -1;
  long long lost = -1;
  for (std::size_t lines = 1; lines < 100; ++lines) {
    ASSERT_TRUE(relay.child.wait_for_err_times("sockit: stats:", lines)) << relay.child.err();
    down = number_before(relay.child.err(), "sockit: stats:", "down");
    lost = number_before(relay.child.err(), "sockit: stats:", "lost");
    if (down + lost == 10000) break;
  }
  ASSERT_EQ(down + lost, 10000) << relay.child.err();
  const long long up = number_before(relay.child.err(), "sockit: stats:", "datagrams up");
  EXPECT_EQ(number_before(relay.child.err(), "sockit: stats:", "dropped"), 0);
  // Draws: 10,000 on the way up, `up` on the way down; binomial sigma ~0.22 points.
  const double rate = static_cast<double>(lost) / static_cast<double>(10000 + up);
  EXPECT_NEAR(rate, 0.10, 0.01) << lost << " lost of " << 10000 + up;
  client.finish();
  EXPECT_EQ(relay.stop().code, 0);
  EXPECT_EQ(echo.stop().code, 0);
}

TEST(CliRelay, DelayAddsItsTimeEachWayToTheRoundTrip) {
  EchoServer echo("udp://127.0.0.1:0");
  ASSERT_FALSE(echo.address.empty());
  Relay relay("udp://127.0.0.1:0", echo.address, {"--delay", "50"});
  ASSERT_FALSE(relay.address.empty()) << relay.child.err();
  const std::string direct = run_python({"rtt", echo.address});
  const std::string relayed = run_python({"rtt", relay.address});
  const double direct_median = std::stod(direct.substr(direct.find(' ')));
  const double relayed_min = std::stod(relayed);
  const double relayed_median = std::stod(relayed.substr(relayed.find(' ')));
  // 50 ms each way: never less than 100 ms more; a loaded machine may add some.
  EXPECT_GE(relayed_min, 100.0) << relayed;
  EXPECT_LE(relayed_median - direct_median, 140.0) << direct << " vs " << relayed;
  EXPECT_EQ(relay.stop().code, 0);
  EXPECT_EQ(echo.stop().code, 0);
}

TEST(CliRelay, RefusesOptionsThatDoNotApplyAndValuesThatMeanNothing) {
  TempDir dir;
  const std::string tcp = "tcp://127.0.0.1:0";
  const std::string unix_path = "unix:" + dir.file("x.sock");
  const std::string udp = "udp://127.0.0.1:0";
  expect_usage_error({tcp, unix_path, "--loss", "5"}, "--loss does not apply to connections");
  expect_usage_error({tcp, unix_path, "--duplicate", "5"}, "--duplicate does not apply to connections");
  expect_usage_error({tcp, unix_path, "--reorder", "5"}, "--reorder does not apply to connections");
  expect_usage_error({tcp, unix_path, "--max-clients", "5"}, "--max-clients does not apply to connections");
  expect_usage_error({udp, udp, "--reset-after", "5"}, "--reset-after does not apply to datagrams");
  expect_usage_error({udp, udp, "--stall-after", "5"}, "--stall-after does not apply to datagrams");
  expect_usage_error({udp, udp, "--max-conns", "5"}, "--max-conns does not apply to datagrams");
  expect_usage_error({tcp, udp}, "must both be");
  expect_usage_error({"unix-seqpacket:" + dir.file("s.sock"), unix_path}, "unix-seqpacket:");
  expect_usage_error({tcp, unix_path, "--reset-after", "5", "--stall-after", "5"}, "exclude each other");
  expect_usage_error({udp, udp, "--loss", "150"}, "not a percentage");
  expect_usage_error({udp, udp, "--loss", "nan"}, "not a percentage");
  expect_usage_error({udp, udp, "--delay", "nan"}, "--delay: 'nan' is not a number of milliseconds (0 to 60000)");
  expect_usage_error({udp, udp, "--delay", "-1"}, "--delay: '-1' is not a number of milliseconds");
  expect_usage_error({udp, udp, "--rate", "0"}, "--rate: '0' is not a rate in Mbit/s (0.001 to 100000)");
  expect_usage_error({udp, udp, "--loss-burst", "0"}, "--loss-burst");
}

}  // namespace
}  // namespace sockit::test::cli
