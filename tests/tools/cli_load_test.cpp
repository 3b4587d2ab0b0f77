// `sockit load`: short runs against `sockit echo` (every framing, every backend,
// fixed rate, --messages, threads), deliberately faulty servers in this process
// (one flips a byte, one closes early) that must make it fail with exit 1 and a
// line naming the connection, message and byte, churn and flood against a
// server at --max-conns 5, --json checked by Python's parser, and options that
// make no sense (exit 2). Loopback and temp-dir Unix sockets only; no speed is
// asserted: only that the figures are there and the counts are what the server
// did.
#include <gtest/gtest.h>

#include <csignal>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "cli_harness.hpp"
#include "sockit/listener.hpp"
#include "support/loop_helpers.hpp"
#include "support/temp_dir.hpp"

namespace sockit::test::cli {
namespace {

struct Outcome {
  Exit exit;
  std::string out;
  std::string err;
};

Outcome run_load(std::vector<std::string> args) {
  args.insert(args.begin(), {sockit_bin(), "load"});
  Process child(std::move(args));
  Exit exit = child.finish(30s);
  return {exit, child.out(), child.err()};
}

// The number in "  messages:    N echoed and verified" (and the like): -1 if absent.
long long count_after(const std::string& text, const std::string& label) {
  std::smatch match;
  if (!std::regex_search(text, match, std::regex(label + R"(\s+(\d+))"))) return -1;
  return std::stoll(match[1]);
}

// A deliberately faulty echo server on a Unix socket: it echoes the first `limit`
// bytes of its one connection, with the byte at stream offset `flip_at` (if any)
// inverted; then it shuts its sending side (the client sees an orderly end of
// stream) and discards what follows until the client goes. Every wait is bounded.
class FaultyEchoServer {
 public:
  FaultyEchoServer(const std::string& path, std::size_t flip_at, std::size_t limit) {
    address = "unix:" + path;
    auto listener = sockit::listen(*Address::parse(address));
    if (!listener) {
      ADD_FAILURE() << "listen " << address << ": " << listener.error().message();
      return;
    }
    thread_ = std::thread([listener = std::move(*listener), flip_at, limit]() mutable {
      auto peer = listener.accept(Deadline::after(kWait));
      if (!peer) return;
      std::size_t offset = 0;
      std::byte buffer[4096];
      for (;;) {
        auto n = peer->recv_some(buffer, Deadline::after(kWait));
        if (!n || *n == 0) return;
        const std::size_t echo = offset < limit ? std::min(*n, limit - offset) : 0;
        if (flip_at >= offset && flip_at < offset + echo) buffer[flip_at - offset] = ~buffer[flip_at - offset];
        if (echo > 0 && !peer->send_all(std::span(buffer, echo), Deadline::after(kWait))) return;
        offset += *n;
        if (offset >= limit && echo > 0) (void)peer->shutdown(ShutdownHow::write);
      }
    });
  }
  ~FaultyEchoServer() {
    if (thread_.joinable()) thread_.join();
  }
  FaultyEchoServer(const FaultyEchoServer&) = delete;
  FaultyEchoServer& operator=(const FaultyEchoServer&) = delete;

  std::string address;

 private:
  std::thread thread_;
};

constexpr std::size_t kNever = SIZE_MAX;

// --- echo mode against sockit echo -------------------------------------------

class CliLoadBackend : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "io_uring") (void)make_loop_or_skip({.backend = GetParam()});
  }
};

TEST_P(CliLoadBackend, CountedRunAgainstSockitEchoVerifiesExactlyTheMessagesAsked) {
  EchoServer server("tcp://127.0.0.1:0");
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  // 3 connections share 100 messages (34 + 33 + 33), two in flight each.
  Outcome run = run_load({server.address, "--backend", GetParam(), "-c", "3", "-d", "2", "-s", "1-2000",
                          "--messages", "100", "--warmup", "0"});
  EXPECT_EQ(run.exit.code, 0) << run.exit << "\n" << run.err;
  EXPECT_EQ(run.err, "");
  EXPECT_EQ(count_after(run.out, "messages:"), 100) << run.out;
  EXPECT_NE(run.out.find("backend " + GetParam() + ", 1 thread;"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("  errors:      0\n"), std::string::npos) << run.out;
  EXPECT_EQ(server.stop().code, 0);
}

INSTANTIATE_TEST_SUITE_P(Backends, CliLoadBackend, ::testing::ValuesIn(backends_under_test()),
                         backend_param_name);

TEST(CliLoad, TimedRunOnEveryFramingFinishesWithVerifiedMessagesAndEveryFigure) {
  TempDir dir;
  for (const std::string framing : {"raw", "length", "line"}) {
    EchoServer server("unix:" + dir.file(framing + ".sock"), {"--framing", framing});
    ASSERT_FALSE(server.address.empty()) << server.child.err();
    Outcome run = run_load({server.address, "--framing", framing, "-c", "4", "-d", "4", "-s", "1-3000",
                            "--threads", "2", "--duration", "0.3", "--warmup", "0.1"});
    EXPECT_EQ(run.exit.code, 0) << framing << ": " << run.exit << "\n" << run.err;
    EXPECT_GT(count_after(run.out, "messages:"), 0) << run.out;
    for (const char* line : {"msg/s\n", "MB/s each way", "  latency:     p50 ", "p99.9 ", "(round trip)\n",
                             "  load CPU:    ", "backend ", "2 threads"}) {
      EXPECT_NE(run.out.find(line), std::string::npos) << framing << ": no '" << line << "' in\n" << run.out;
    }
    EXPECT_EQ(server.stop().code, 0);
  }
}

TEST(CliLoad, FixedRateSendsAboutTheScheduleAndSaysLatencyCountsFromIt) {
  EchoServer server("tcp://127.0.0.1:0");
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  // 1000 msg/s for 0.5 s: 500 scheduled; the count depends on the machine only
  // through the messages still in flight at the end (at most --depth per connection).
  Outcome run = run_load({server.address, "--rate", "1000", "-c", "2", "-d", "8", "--duration", "0.5",
                          "--warmup", "0"});
  EXPECT_EQ(run.exit.code, 0) << run.exit << "\n" << run.err;
  const long long messages = count_after(run.out, "messages:");
  EXPECT_GT(messages, 0) << run.out;
  EXPECT_LE(messages, 501) << run.out;  // never more than the schedule holds
  EXPECT_NE(run.out.find("1000 msg/s fixed rate"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("from each message's scheduled send time"), std::string::npos) << run.out;
  EXPECT_EQ(server.stop().code, 0);
}

// --- faulty servers and no server: exit 1, one line that says what ----------------

TEST(CliLoad, FlippedByteIsAnErrorNamingTheConnectionMessageAndByte) {
  TempDir dir;
  // 64-byte messages on one connection: stream byte 1000 is message 15, byte 40.
  FaultyEchoServer server(dir.file("flip.sock"), 1000, kNever);
  Outcome run = run_load({server.address, "-c", "1", "-d", "3", "--duration", "5", "--warmup", "0"});
  EXPECT_EQ(run.exit.code, 1) << run.exit;
  const std::string expected =
      "sockit: load " + server.address + ": echo differs on connection 0, message 15, byte 40 (sent 0x";
  EXPECT_EQ(run.err.rfind(expected, 0), 0u) << run.err;
  EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << run.err;
  EXPECT_NE(run.out.find("  errors:      1 (see stderr)\n"), std::string::npos) << run.out;
}

TEST(CliLoad, FlippedByteInAFramedEchoIsAnErrorToo) {
  TempDir dir;
  // Length framing: 4-byte prefix + 64 bytes per frame; stream byte 6 is byte 2 of message 0.
  FaultyEchoServer server(dir.file("flip.sock"), 6, kNever);
  Outcome run = run_load({server.address, "--framing", "length", "-c", "1", "--duration", "5", "--warmup", "0",
                          "--json"});
  EXPECT_EQ(run.exit.code, 1) << run.exit;
  EXPECT_EQ(run.err.rfind("sockit: load " + server.address +
                              ": echo differs on connection 0, message 0, byte 2 (sent 0x",
                          0),
            0u)
      << run.err;
  // The JSON is printed even so, with the error in it.
  EXPECT_NE(run.out.find(R"("errors":1,"error":"echo differs on connection 0, message 0, byte 2)"),
            std::string::npos)
      << run.out;
}

TEST(CliLoad, ServerThatClosesEarlyIsAnError) {
  TempDir dir;
  // Ten 64-byte messages echoed, then the server's end of stream.
  FaultyEchoServer server(dir.file("early.sock"), kNever, 640);
  Outcome run = run_load({server.address, "-c", "1", "--duration", "5", "--warmup", "0"});
  EXPECT_EQ(run.exit.code, 1) << run.exit;
  EXPECT_EQ(run.err.rfind("sockit: load " + server.address +
                              ": connection 0: closed by the server after 10 messages echoed (",
                          0),
            0u)
      << run.err;
}

TEST(CliLoad, ServerThatIsNotThereIsAnError) {
  TempDir dir;
  const std::string address = "unix:" + dir.file("nobody.sock");
  Outcome run = run_load({address, "-c", "3", "--duration", "1"});
  EXPECT_EQ(run.exit.code, 1) << run.exit;
  EXPECT_NE(run.err.find("sockit: load " + address + ": connection "), std::string::npos) << run.err;
  EXPECT_NE(run.err.find(": connect: no such file or directory (is a server listening?)\n"), std::string::npos)
      << run.err;
  EXPECT_EQ(run.out, "");  // no traffic, no report
}

// --- churn and flood against a server at --max-conns 5 ----------------------------

TEST(CliLoad, ChurnWithinTheServersLimitCompletesEveryExchange) {
  EchoServer server("tcp://127.0.0.1:0", {"--max-conns", "5"});
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  Outcome run = run_load({server.address, "--mode", "churn", "-c", "2", "--messages", "50", "--warmup", "0"});
  EXPECT_EQ(run.exit.code, 0) << run.exit << "\n" << run.err;
  EXPECT_EQ(count_after(run.out, "exchanges:"), 50) << run.out;
  EXPECT_NE(run.out.find("  failures:    0 connects failed, 0 closed by the server before the echo\n"),
            std::string::npos)
      << run.out;
  EXPECT_EQ(server.stop().code, 0);
  // Every exchange was a connection of its own.
  EXPECT_NE(server.child.err().find(": 50 connections, "), std::string::npos) << server.child.err();
}

TEST(CliLoad, ChurnBeyondTheServersLimitCountsTheConnectionsItClosed) {
  EchoServer server("tcp://127.0.0.1:0", {"--max-conns", "5"});
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  Outcome run = run_load({server.address, "--mode", "churn", "-c", "20", "--duration", "0.5", "--warmup", "0"});
  EXPECT_EQ(run.exit.code, 0) << run.exit << "\n" << run.err;
  EXPECT_GT(count_after(run.out, "exchanges:"), 0) << run.out;
  // 20 connects at once, 5 served at a time: the first round alone has 15 refused.
  std::smatch match;
  ASSERT_TRUE(std::regex_search(run.out, match, std::regex(R"(failures:    0 connects failed, (\d+) closed)")))
      << run.out;
  EXPECT_GE(std::stoll(match[1]), 15) << run.out;
  EXPECT_EQ(server.stop().code, 0);
}

TEST(CliLoad, FloodCountsFiveServedAndTheRestClosedByAServerAtMaxConnsFive) {
  EchoServer server("tcp://127.0.0.1:0", {"--max-conns", "5"});
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  Outcome run = run_load({server.address, "--mode", "flood", "-c", "20", "--duration", "0.5"});
  EXPECT_EQ(run.exit.code, 0) << run.exit << "\n" << run.err;
  EXPECT_EQ(count_after(run.out, "served:"), 5) << run.out;
  EXPECT_EQ(count_after(run.out, "dropped:"), 0) << run.out;
  EXPECT_EQ(count_after(run.out, "closed:"), 15) << run.out;
  EXPECT_EQ(count_after(run.out, "refused:"), 0) << run.out;
  EXPECT_EQ(count_after(run.out, "unanswered:"), 0) << run.out;
  EXPECT_EQ(server.stop().code, 0);
}

// --- --json ------------------------------------------------------------------------

// Parses stdin as one JSON object and checks it has every key named in argv.
constexpr const char* kCheckJson = R"(
import json, sys
obj = json.load(sys.stdin)
missing = [k for k in sys.argv[1:] if k not in obj]
lat = obj.get("latency_ns", {})
missing += ["latency_ns." + k for k in ("p50", "p90", "p99", "p999", "max", "count") if k not in lat]
print("missing: " + " ".join(missing) if missing else "ok")
)";

std::string check_json(const std::string& json, const std::vector<std::string>& keys) {
  std::vector<std::string> argv = {"python3", "-c", kCheckJson};
  argv.insert(argv.end(), keys.begin(), keys.end());
  Process python(argv);
  python.send(json);
  Exit exit = python.finish();
  if (exit.code != 0) return "python3: " + python.err();
  return python.out();
}

TEST(CliLoad, JsonOfEveryModeParsesAndHasEveryField) {
  if (!have_program("python3")) GTEST_SKIP() << "python3 is not installed (it parses the JSON)";
  EchoServer server("tcp://127.0.0.1:0", {"--max-conns", "5"});
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  const std::vector<std::string> common = {"mode", "address", "backend", "threads", "connections", "size_min",
                                           "size_max", "framing", "seed", "warmup_s", "window_s", "latency_ns",
                                           "errors", "error", "interrupted", "cpu_user_s", "cpu_system_s",
                                           "cpu_percent_of_one_core", "cores"};
  struct Case {
    std::vector<std::string> args;
    std::vector<std::string> keys;
    std::string counts;  // what the run must have counted, as it appears in the JSON
  };
  const std::vector<Case> cases = {
      {{"-c", "2", "-d", "2", "--messages", "100", "--warmup", "0"},
       {"depth", "rate", "messages", "messages_per_s", "bytes_each_way", "mb_per_s_each_way"},
       R"("messages":100,)"},
      {{"--mode", "churn", "-c", "2", "--messages", "20", "--warmup", "0"},
       {"exchanges", "connections_per_s", "connect_failed", "closed_early", "first_connect_error"},
       R"("exchanges":20,)"},
      {{"--mode", "flood", "-c", "7", "--duration", "0.3"},
       {"served", "dropped", "closed_early", "refused", "unanswered", "first_connect_error"},
       R"("served":5,"dropped":0,"closed_early":2,"refused":0,"unanswered":0,)"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {server.address, "--json"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    Outcome run = run_load(args);
    EXPECT_EQ(run.exit.code, 0) << c.args[0] << ": " << run.exit << "\n" << run.err;
    ASSERT_EQ(std::count(run.out.begin(), run.out.end(), '\n'), 1) << run.out;  // one object, one line
    std::vector<std::string> keys = common;
    keys.insert(keys.end(), c.keys.begin(), c.keys.end());
    EXPECT_EQ(check_json(run.out, keys), "ok\n") << run.out;
    EXPECT_NE(run.out.find(c.counts), std::string::npos) << run.out;
  }
  EXPECT_EQ(server.stop().code, 0);
}

// --- seqpacket -------------------------------------------------------------------

// One message per record: a counted run against `sockit echo unix-seqpacket:`
// verifies exactly the messages asked for, in echo and churn modes.
TEST(CliLoad, SeqpacketMessagesAreRecordsAndEveryOneIsVerified) {
  TempDir dir;
  EchoServer server("unix-seqpacket:" + dir.file("records.sock"));
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  Outcome echo = run_load({server.address, "-c", "3", "-d", "4", "-s", "1-65536", "--messages", "300", "--warmup", "0"});
  EXPECT_EQ(echo.exit.code, 0) << echo.exit << "\n" << echo.err;
  EXPECT_EQ(count_after(echo.out, "messages:"), 300) << echo.out;
  EXPECT_NE(echo.out.find("  errors:      0\n"), std::string::npos) << echo.out;
  Outcome churn = run_load({server.address, "--mode", "churn", "-c", "2", "--messages", "40", "--warmup", "0"});
  EXPECT_EQ(churn.exit.code, 0) << churn.exit << "\n" << churn.err;
  EXPECT_EQ(count_after(churn.out, "exchanges:"), 40) << churn.out;
  EXPECT_EQ(server.stop().code, 0);
}

// --- Ctrl-C ----------------------------------------------------------------------

// A run far longer than the test: SIGINT once the traffic flows ends it within a
// check interval and the connections' close linger, with the report of what it
// measured, marked as interrupted; exit 0 (the run did what it was asked to up to
// the interruption, and every echo it counted was verified).
TEST(CliLoad, CtrlCEndsTheRunEarlyWithTheReportOfWhatItMeasured) {
  EchoServer server("tcp://127.0.0.1:0");
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  for (const bool json : {false, true}) {
    SCOPED_TRACE(json ? "--json" : "text");
    std::vector<std::string> args = {sockit_bin(), "load", server.address, "-v", "-c", "2", "--threads", "2",
                                     "--duration", "600", "--warmup", "0"};
    if (json) args.push_back("--json");
    Process load(args);
    ASSERT_TRUE(load.wait_for_err("traffic starts")) << load.err();
    const auto interrupted_at = std::chrono::steady_clock::now();
    load.signal(SIGINT);
    const Exit exit = load.finish(10s);
    EXPECT_LT(std::chrono::steady_clock::now() - interrupted_at, 5s);
    EXPECT_EQ(exit.code, 0) << exit << "\n" << load.err();
    EXPECT_NE(load.err().find("sockit: load: Interrupt: ending the run"), std::string::npos) << load.err();
    if (json) {
      EXPECT_NE(load.out().find(R"("interrupted":true,)"), std::string::npos) << load.out();
      EXPECT_NE(load.out().find(R"("errors":0,)"), std::string::npos) << load.out();
    } else {
      EXPECT_NE(load.out().find("  interrupted: by Interrupt"), std::string::npos) << load.out();
      EXPECT_GT(count_after(load.out(), "messages:"), 0) << load.out();
      EXPECT_NE(load.out().find("  errors:      0\n"), std::string::npos) << load.out();
    }
  }
  EXPECT_EQ(server.stop().code, 0);
}

// --- usage errors ------------------------------------------------------------------

TEST(CliLoad, OptionsThatMakeNoSenseAreUsageErrors) {
  TempDir dir;
  const std::string tcp = "tcp://127.0.0.1:9";  // never contacted: refused before connecting
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{tcp, "-c", "0"}, "--connections: '0' is not a number of connections"},
      {{tcp, "-s", "0"}, "--size: '0' is not a size in bytes or a range S1-S2"},
      {{tcp, "-s", "100-10"}, "--size: '100-10' is not a size in bytes or a range S1-S2"},
      {{tcp, "-s", "16777217"}, "--size: '16777217' is not a size in bytes"},
      {{tcp, "-d", "0"}, "--depth: '0' is not a number of messages"},
      {{tcp, "--rate", "-5"}, "--rate: '-5' is not a number of messages per second"},
      {{tcp, "--duration", "0"}, "--duration: '0' is not a number of seconds"},
      {{tcp, "--framing", "xml"}, "--framing: 'xml' is not one of raw, length, line"},
      {{tcp, "--mode", "storm"}, "--mode: 'storm' is not one of echo, churn, flood"},
      {{tcp, "--mode", "churn", "-d", "4"}, "sockit: load " + tcp + ": --depth applies to --mode echo\n"},
      {{tcp, "--mode", "flood", "--rate", "10"}, "sockit: load " + tcp + ": --rate applies to --mode echo\n"},
      {{tcp, "--mode", "flood", "--messages", "10"},
       "sockit: load " + tcp + ": --messages does not apply to --mode flood"},
      {{tcp, "--mode", "flood", "--warmup", "1"}, "sockit: load " + tcp + ": --warmup does not apply"},
      {{tcp, "-c", "2", "--threads", "3"}, "--threads 3 is more than --connections 2"},
      {{"udp://127.0.0.1:9"}, "load needs a connection: a stream (tcp://, unix:, abstract) or seqpacket"},
      {{"unix-seqpacket:" + dir.file("s.sock"), "--framing", "length"},
       "--framing applies to streams; on seqpacket each message is one record (raw)"},
      {{"unix-seqpacket:" + dir.file("s.sock"), "-s", "100-70000"},
       "a seqpacket record is at most 65536 bytes here (-s 100-70000 asks for more)"},
      {{"127.0.0.1:9"}, "sockit: bad address"},
  };
  for (const auto& [args, message] : cases) {
    Outcome run = run_load(args);
    EXPECT_EQ(run.exit.code, 2) << args.back() << ": " << run.exit << "\n" << run.err;
    EXPECT_NE(run.err.find(message), std::string::npos) << "expected '" << message << "' in: " << run.err;
    EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << run.err;
    EXPECT_EQ(run.out, "");
  }
}

}  // namespace
}  // namespace sockit::test::cli
