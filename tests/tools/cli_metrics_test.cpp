// `sockit echo|relay --metrics ADDR`: known traffic, then a scrape with a real
// HTTP client (curl, or Python's urllib where curl is absent) whose every line is
// checked against the text exposition format (0.0.4) before specific values are;
// 404 and 405; a request head over the bound and one that never ends are refused
// within a bound while the endpoint keeps serving; Unix metrics addresses;
// options that do not apply.
#include <gtest/gtest.h>

#include <signal.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cli_harness.hpp"
#include "sockit/sockit.hpp"
#include "support/temp_dir.hpp"

namespace sockit::test::cli {
namespace {

// What one HTTP exchange returned.
struct HttpReply {
  int status = 0;
  std::string content_type;
  std::string body;
};

// The address in "sockit: metrics on ADDR (GET /metrics)".
std::string metrics_address_of(Process& child) {
  static constexpr std::string_view kPrefix = "sockit: metrics on ";
  if (!child.wait_for_err(" (GET /metrics)\n")) return {};
  const std::string& err = child.err();
  const auto at = err.find(kPrefix);
  if (at == std::string::npos) return {};
  const auto end = err.find(" (GET /metrics)", at);
  return err.substr(at + kPrefix.size(), end - at - kPrefix.size());
}

constexpr const char* kPythonGet = R"(
import sys, urllib.request, urllib.error
req = urllib.request.Request(sys.argv[1], method=sys.argv[2])
try:
    r = urllib.request.urlopen(req, timeout=10)
    status, ctype, body = r.status, r.headers.get('Content-Type', ''), r.read()
except urllib.error.HTTPError as e:
    status, ctype, body = e.code, e.headers.get('Content-Type', ''), e.read()
sys.stdout.write('%d\n%s\n' % (status, ctype))
sys.stdout.write(body.decode())
)";

// `method` `path` on the metrics endpoint at `address` (tcp:// or unix:), with curl
// when installed, else urllib (TCP only: the Unix tests need curl).
HttpReply http_request(const std::string& address, const std::string& path, const std::string& method = "GET") {
  HttpReply reply;
  const bool unix_socket = address.starts_with("unix:");
  if (have_program("curl")) {
    std::vector<std::string> argv = {"curl", "-sS", "-i", "--max-time", "10", "-X", method};
    std::string url = "http://" + address.substr(std::string_view("tcp://").size()) + path;
    if (unix_socket) {
      argv.insert(argv.end(), {"--unix-socket", address.substr(std::string_view("unix:").size())});
      url = "http://localhost" + path;
    }
    argv.push_back(url);
    Process curl(argv);
    const Exit exit = curl.finish(15s);
    EXPECT_EQ(exit.code, 0) << exit << "\n" << curl.err();
    const std::string& out = curl.out();
    const auto head_end = out.find("\r\n\r\n");
    if (head_end == std::string::npos) return reply;
    const std::string head = out.substr(0, head_end);
    reply.body = out.substr(head_end + 4);
    std::smatch m;
    if (std::regex_search(head, m, std::regex("^HTTP/1\\.1 (\\d{3}) "))) reply.status = std::stoi(m[1].str());
    if (std::regex_search(head, m, std::regex("\r\nContent-Type: ([^\r]*)", std::regex::icase))) {
      reply.content_type = m[1].str();
    }
    if (std::regex_search(head, m, std::regex("\r\nContent-Length: (\\d+)", std::regex::icase))) {
      EXPECT_EQ(std::stoul(m[1].str()), reply.body.size()) << "Content-Length";
    } else {
      ADD_FAILURE() << "no Content-Length in\n" << head;
    }
    return reply;
  }
  EXPECT_FALSE(unix_socket) << "a Unix metrics address needs curl";
  Process python({"python3", "-c", kPythonGet, "http://" + address.substr(6) + path, method});
  const Exit exit = python.finish(15s);
  EXPECT_EQ(exit.code, 0) << exit << "\n" << python.err();
  const std::string& out = python.out();
  const auto first = out.find('\n');
  const auto second = out.find('\n', first + 1);
  if (first == std::string::npos || second == std::string::npos) return reply;
  reply.status = std::stoi(out.substr(0, first));
  reply.content_type = out.substr(first + 1, second - first - 1);
  reply.body = out.substr(second + 1);
  return reply;
}

// Every series of an exposition, "name{labels}" -> value.
using Series = std::map<std::string, double>;

// Checks `text` line by line against the text exposition format 0.0.4 as sockit
// writes it (no blank lines, no other comments than HELP and TYPE, no timestamps),
// and collects its series into `series`.
::testing::AssertionResult parse_exposition(const std::string& text, Series& series) {
  static const std::string kName = "[a-zA-Z_:][a-zA-Z0-9_:]*";
  static const std::string kLabel = "[a-zA-Z_][a-zA-Z0-9_]*=\"(?:[^\"\\\\\\n]|\\\\[\\\\\"n])*\"";
  static const std::regex kHelp("# HELP (" + kName + ") ((?:[^\\\\\\n]|\\\\[\\\\n])*)");
  static const std::regex kType("# TYPE (" + kName + ") (counter|gauge|histogram|summary|untyped)");
  static const std::regex kSample("((" + kName + ")(?:\\{(?:" + kLabel + "(?:," + kLabel + ")*,?)?\\})?) (\\S+)");
  if (!text.empty() && !text.ends_with('\n')) return ::testing::AssertionFailure() << "does not end with a newline";
  std::set<std::string> helped, typed, finished;
  std::map<std::string, std::string> type_of;
  std::string current;  // the family whose samples are being read
  std::size_t line_number = 0;
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t end = text.find('\n', at);
    const std::string line = text.substr(at, end - at);
    at = end + 1;
    ++line_number;
    auto fail = [&] { return ::testing::AssertionFailure() << "line " << line_number << ": " << line << "\n"; };
    std::smatch m;
    if (std::regex_match(line, m, kHelp)) {
      if (!helped.insert(m[1].str()).second) return fail() << "a second HELP";
      continue;
    }
    if (std::regex_match(line, m, kType)) {
      if (!typed.insert(m[1].str()).second) return fail() << "a second TYPE";
      type_of[m[1].str()] = m[2].str();
      continue;
    }
    if (!std::regex_match(line, m, kSample)) return fail() << "neither HELP, TYPE nor a sample";
    const std::string name = m[2].str();
    const std::string value_text = m[3].str();
    if (type_of.count(name) == 0) return fail() << "a sample before its TYPE";
    if (name != current) {
      if (finished.count(name) != 0) return fail() << "the family's samples are not together";
      if (!current.empty()) finished.insert(current);
      current = name;
    }
    double value = 0;
    if (value_text == "NaN" || value_text == "Nan") {
      value = std::nan("");
    } else if (value_text == "+Inf" || value_text == "-Inf") {
      value = value_text[0] == '-' ? -INFINITY : INFINITY;
    } else {
      char* parsed_to = nullptr;
      value = std::strtod(value_text.c_str(), &parsed_to);
      if (*parsed_to != '\0') return fail() << "value " << value_text << " is not a number";
    }
    if (type_of[name] == "counter" && !(name.ends_with("_total") && value >= 0)) {
      return fail() << "a counter must be named *_total and never negative";
    }
    if (!series.emplace(m[1].str(), value).second) return fail() << "a series twice";
  }
  for (const std::string& name : typed) {
    if (helped.count(name) == 0) return ::testing::AssertionFailure() << name << " has no HELP";
  }
  return ::testing::AssertionSuccess();
}

// Scrapes GET /metrics and checks the status, the type and every line.
Series scrape(const std::string& address) {
  const HttpReply reply = http_request(address, "/metrics");
  EXPECT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.content_type, "text/plain; version=0.0.4; charset=utf-8");
  Series series;
  EXPECT_TRUE(parse_exposition(reply.body, series)) << reply.body;
  return series;
}

double at(const Series& series, const std::string& key) {
  const auto it = series.find(key);
  EXPECT_NE(it, series.end()) << "no series " << key;
  return it == series.end() ? -1 : it->second;
}

// Scrapes until `ready` holds (at most ~5 s; the last scrape either way): a
// counter the server updates just after the kernel took the bytes may trail what
// the client already read by a moment.
Series scrape_until(const std::string& address, const std::function<bool(const Series&)>& ready) {
  Series series;
  for (int attempt = 0; attempt < 100; ++attempt) {
    series = scrape(address);
    if (ready(series)) break;
    std::this_thread::sleep_for(50ms);
  }
  return series;
}

// Connects to a stream address, sends `n` bytes and reads them back (an echo).
StreamSocket echo_client(const std::string& address, std::size_t n) {
  auto c = sockit::connect(*Address::parse(address), 5s);
  EXPECT_TRUE(c) << c.error().message();
  if (!c) return {};
  const std::string out(n, 'm');
  EXPECT_TRUE(c->send_all(out, 10s));
  std::string back(n, '\0');
  EXPECT_TRUE(c->recv_exact(std::as_writable_bytes(std::span(back)), 10s));
  EXPECT_EQ(back, out);
  return std::move(*c);
}

// Everything the endpoint sends until it closes (bounded by `limit`).
std::string read_to_end(StreamSocket& s, std::chrono::milliseconds limit) {
  std::string all;
  const Deadline deadline = Deadline::after(limit);
  std::array<std::byte, 4096> buffer{};
  for (;;) {
    auto n = s.recv_some(buffer, deadline);
    if (!n || *n == 0) break;
    all.append(reinterpret_cast<const char*>(buffer.data()), *n);
  }
  return all;
}

TEST(CliMetrics, EchoServesEveryCounterInTheExpositionFormatWithTheValuesOfItsTraffic) {
  EchoServer echo("tcp://127.0.0.1:0", {"--threads", "2", "--metrics", "tcp://127.0.0.1:0"});
  ASSERT_FALSE(echo.address.empty()) << echo.child.err();
  const std::string metrics = metrics_address_of(echo.child);
  ASSERT_TRUE(metrics.starts_with("tcp://127.0.0.1:")) << echo.child.err();
  EXPECT_NE(port_of(metrics), "0") << "the real port is printed";
  // Three clients echo 1,000 bytes each; two leave, one stays.
  StreamSocket staying = echo_client(echo.address, 1000);
  echo_client(echo.address, 1000).close();
  echo_client(echo.address, 1000).close();
  // The two departures are seen by the server a moment after their close.
  const Series series = scrape_until(metrics, [](const Series& s) {
    return s.count("sockit_server_connections_live") != 0 && s.at("sockit_server_connections_live") == 1 &&
           s.at("sockit_server_sent_bytes_total") == 3000;
  });
  EXPECT_EQ(at(series, "sockit_server_connections_accepted_total"), 3);
  EXPECT_EQ(at(series, "sockit_server_connections_live"), 1);
  EXPECT_EQ(at(series, "sockit_server_connections_closed_total{reason=\"peer\"}"), 2);
  EXPECT_EQ(at(series, "sockit_server_connections_refused_total{reason=\"max_connections\"}"), 0);
  EXPECT_EQ(at(series, "sockit_server_received_bytes_total"), 3000);
  EXPECT_EQ(at(series, "sockit_server_sent_bytes_total"), 3000);
  EXPECT_EQ(at(series, "sockit_server_worker_threads"), 2);
  EXPECT_EQ(at(series, "sockit_server_connections_max"), 1024);
  EXPECT_GT(at(series, "sockit_loop_waits_total"), 0);
  EXPECT_EQ(at(series, "sockit_server_tcp_connections"), 1);
  EXPECT_GT(at(series, "sockit_server_tcp_rtt_max_seconds"), 0);
  EXPECT_LT(at(series, "sockit_server_tcp_rtt_max_seconds"), 10);
  const auto backend = std::find_if(series.begin(), series.end(),
                                    [](const auto& s) { return s.first.starts_with("sockit_loop_backend_info{"); });
  ASSERT_NE(backend, series.end());
  EXPECT_EQ(backend->second, 1);
  staying.close();
  const Exit stopped = echo.stop();
  EXPECT_EQ(stopped.code, 0) << stopped << "\n" << echo.child.err();
}

TEST(CliMetrics, AnswersOtherPathsWith404AndOtherMethodsWith405) {
  EchoServer echo("tcp://127.0.0.1:0", {"--metrics", "tcp://127.0.0.1:0"});
  ASSERT_FALSE(echo.address.empty()) << echo.child.err();
  const std::string metrics = metrics_address_of(echo.child);
  ASSERT_FALSE(metrics.empty()) << echo.child.err();
  EXPECT_EQ(http_request(metrics, "/").status, 404);
  EXPECT_EQ(http_request(metrics, "/metricsx").status, 404);
  EXPECT_EQ(http_request(metrics, "/metrics", "POST").status, 405);
  EXPECT_EQ(http_request(metrics, "/metrics", "DELETE").status, 405);
  EXPECT_EQ(http_request(metrics, "/metrics?name=x").status, 200);
  EXPECT_EQ(echo.stop().code, 0) << echo.child.err();
}

TEST(CliMetrics, RefusesAnOversizedOrNeverEndingRequestWithinABoundAndServesOthersMeanwhile) {
  EchoServer echo("tcp://127.0.0.1:0", {"--metrics", "tcp://127.0.0.1:0"});
  ASSERT_FALSE(echo.address.empty()) << echo.child.err();
  const std::string metrics = metrics_address_of(echo.child);
  ASSERT_FALSE(metrics.empty()) << echo.child.err();
  const Address at_metrics = *Address::parse(metrics);
  // A head that never ends: 431 once 8 KiB are in, then the close.
  auto big = sockit::connect(at_metrics, 5s);
  ASSERT_TRUE(big) << big.error().message();
  ASSERT_TRUE(big->send_all("GET /metrics HTTP/1.1\r\nX-Filler: " + std::string(9000, 'a'), 5s));
  const std::string big_reply = read_to_end(*big, 15s);
  EXPECT_TRUE(big_reply.starts_with("HTTP/1.1 431 ")) << big_reply;
  // A request line, then silence: 408 at the deadline (5 s), then the close.
  auto slow = sockit::connect(at_metrics, 5s);
  ASSERT_TRUE(slow) << slow.error().message();
  ASSERT_TRUE(slow->send_all(std::string("GET /metrics HTTP/1.1\r\n"), 5s));
  // Meanwhile the endpoint serves a scraper.
  EXPECT_FALSE(scrape(metrics).empty());
  const auto started = std::chrono::steady_clock::now();
  const std::string slow_reply = read_to_end(*slow, 20s);
  EXPECT_TRUE(slow_reply.starts_with("HTTP/1.1 408 ")) << slow_reply;
  EXPECT_LT(std::chrono::steady_clock::now() - started, 15s) << "held past its deadline";
  EXPECT_EQ(echo.stop().code, 0) << echo.child.err();
}

TEST(CliMetrics, ServesOnAUnixSocketPath) {
  if (!have_program("curl")) GTEST_SKIP() << "curl is not installed (needed for HTTP over a Unix socket)";
  TempDir dir;
  const std::string metrics = "unix:" + dir.file("metrics.sock");
  EchoServer echo("unix:" + dir.file("echo.sock"), {"--metrics", metrics});
  ASSERT_FALSE(echo.address.empty()) << echo.child.err();
  EXPECT_EQ(metrics_address_of(echo.child), metrics);
  echo_client(echo.address, 10).close();
  const Series series = scrape_until(metrics, [](const Series& s) {
    const auto closed = s.find("sockit_server_connections_closed_total{reason=\"peer\"}");
    return closed != s.end() && closed->second == 1;
  });
  EXPECT_EQ(at(series, "sockit_server_connections_accepted_total"), 1);
  EXPECT_EQ(at(series, "sockit_server_received_bytes_total"), 10);
  EXPECT_EQ(series.count("sockit_server_tcp_connections"), 0u) << "no TCP_INFO on a Unix server";
  EXPECT_EQ(echo.stop().code, 0) << echo.child.err();
}

TEST(CliMetrics, RelayServesItsClientsAndForwardedBytes) {
  EchoServer upstream("tcp://127.0.0.1:0");
  ASSERT_FALSE(upstream.address.empty()) << upstream.child.err();
  Process relay({sockit_bin(), "relay", "tcp://127.0.0.1:0", upstream.address, "--metrics", "tcp://127.0.0.1:0"});
  const std::string metrics = metrics_address_of(relay);
  ASSERT_FALSE(metrics.empty()) << relay.err();
  const std::string relay_address = relay.listening_address().value_or("");
  ASSERT_FALSE(relay_address.empty()) << relay.err();
  StreamSocket first = echo_client(relay_address, 5000);
  StreamSocket second = echo_client(relay_address, 3000);
  // The bytes came back through the relay, so it forwarded them both ways (its
  // count follows each send by a moment).
  const Series series = scrape_until(metrics, [](const Series& s) {
    const auto down = s.find("sockit_relay_forwarded_bytes_total{direction=\"down\"}");
    return down != s.end() && down->second == 8000;
  });
  EXPECT_EQ(at(series, "sockit_server_connections_accepted_total"), 2);
  EXPECT_EQ(at(series, "sockit_server_connections_live"), 2);
  EXPECT_EQ(at(series, "sockit_relay_forwarded_bytes_total{direction=\"up\"}"), 8000);
  EXPECT_EQ(at(series, "sockit_relay_forwarded_bytes_total{direction=\"down\"}"), 8000);
  EXPECT_EQ(at(series, "sockit_relay_connect_failed_total"), 0);
  EXPECT_EQ(at(series, "sockit_server_tcp_connections"), 2);
  first.close();
  second.close();
  relay.signal(SIGINT);
  const Exit stopped = relay.finish();
  EXPECT_EQ(stopped.code, 0) << stopped << "\n" << relay.err();
  EXPECT_EQ(upstream.stop().code, 0);
}

TEST(CliMetrics, RefusesAMetricsAddressThatIsNotAStreamAndMetricsForDatagramServers) {
  const Outcome datagram_metrics = run_sockit({"echo", "tcp://127.0.0.1:0", "--metrics", "udp://127.0.0.1:0"});
  EXPECT_EQ(datagram_metrics.exit.code, 2) << datagram_metrics.err;
  EXPECT_NE(datagram_metrics.err.find("HTTP needs a stream address"), std::string::npos) << datagram_metrics.err;
  const Outcome bad = run_sockit({"echo", "tcp://127.0.0.1:0", "--metrics", "127.0.0.1:9100"});
  EXPECT_EQ(bad.exit.code, 2) << bad.err;
  EXPECT_NE(bad.err.find("tcp://127.0.0.1:9100"), std::string::npos) << "the hint: " << bad.err;
  const Outcome echo_udp = run_sockit({"echo", "udp://127.0.0.1:0", "--metrics", "tcp://127.0.0.1:0"});
  EXPECT_EQ(echo_udp.exit.code, 2) << echo_udp.err;
  EXPECT_NE(echo_udp.err.find("--metrics"), std::string::npos) << echo_udp.err;
  const Outcome relay_udp =
      run_sockit({"relay", "udp://127.0.0.1:0", "udp://127.0.0.1:9", "--metrics", "tcp://127.0.0.1:0"});
  EXPECT_EQ(relay_udp.exit.code, 2) << relay_udp.err;
  EXPECT_NE(relay_udp.err.find("--metrics"), std::string::npos) << relay_udp.err;
  for (const Outcome* o : {&datagram_metrics, &bad, &echo_udp, &relay_udp}) {
    EXPECT_EQ(o->err.find("listening on"), std::string::npos) << "it started anyway";
  }
}

TEST(CliMetrics, AMetricsAddressInUseIsARuntimeErrorAndTheServerDoesNotStart) {
  EchoServer first("tcp://127.0.0.1:0", {"--metrics", "tcp://127.0.0.1:0"});
  ASSERT_FALSE(first.address.empty()) << first.child.err();
  const std::string taken = metrics_address_of(first.child);
  ASSERT_FALSE(taken.empty());
  const Outcome second = run_sockit({"echo", "tcp://127.0.0.1:0", "--metrics", taken});
  EXPECT_EQ(second.exit.code, 1) << second.err;
  EXPECT_NE(second.err.find("sockit: echo --metrics " + taken + ": "), std::string::npos)
      << second.err;
  EXPECT_EQ(second.err.find("listening on"), std::string::npos) << second.err;
  EXPECT_EQ(first.stop().code, 0);
}

}  // namespace
}  // namespace sockit::test::cli
