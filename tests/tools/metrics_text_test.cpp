// The pure parts of `--metrics`: the Prometheus text a snapshot becomes (families
// grouped under one HELP and TYPE, label values and help text escaped) and the
// HTTP status each request gets.
#include "metrics_text.hpp"

#include <gtest/gtest.h>

#include <string>

#include "metrics_http.hpp"

namespace sockit::cli {
namespace {

TEST(PrometheusText, GroupsSamplesByNameUnderOneHelpAndTypeInFirstSeenOrder) {
  MetricsSnapshot s;
  s.add_counter("a_total", "A things.", 1, {{"reason", "x"}});
  s.add_gauge("b", "B now.", 2.5);
  s.add_counter("a_total", "A things.", 3, {{"reason", "y"}});
  EXPECT_EQ(prometheus_text(s),
            "# HELP a_total A things.\n"
            "# TYPE a_total counter\n"
            "a_total{reason=\"x\"} 1\n"
            "a_total{reason=\"y\"} 3\n"
            "# HELP b B now.\n"
            "# TYPE b gauge\n"
            "b 2.5\n");
}

TEST(PrometheusText, EscapesLabelValuesAndHelpText) {
  MetricsSnapshot s;
  s.add_gauge("g", "back\\slash and\nnewline", 1, {{"path", "C:\\dir \"q\"\nend"}});
  EXPECT_EQ(prometheus_text(s),
            "# HELP g back\\\\slash and\\nnewline\n"
            "# TYPE g gauge\n"
            "g{path=\"C:\\\\dir \\\"q\\\"\\nend\"} 1\n");
}

TEST(PrometheusText, WritesSmallSecondsAndLargeCountsWithoutLosingThem) {
  MetricsSnapshot s;
  s.add_gauge("rtt_seconds", "h", 0.000012345);
  s.add_counter("bytes_total", "h", 123456789012.0);
  const std::string text = prometheus_text(s);
  EXPECT_NE(text.find("rtt_seconds 1.2345e-05\n"), std::string::npos) << text;
  EXPECT_NE(text.find("bytes_total 123456789012\n"), std::string::npos) << text;
}

TEST(PrometheusText, AnEmptySnapshotIsAnEmptyExposition) { EXPECT_EQ(prometheus_text(MetricsSnapshot{}), ""); }

TEST(MetricsRequest, WaitsForTheEndOfTheHead) {
  EXPECT_EQ(metrics_request_status(""), std::nullopt);
  EXPECT_EQ(metrics_request_status("GET /metrics HTTP/1.1\r\n"), std::nullopt);
  EXPECT_EQ(metrics_request_status("GET /metrics HTTP/1.1\r\nHost: x\r\n"), std::nullopt);
  EXPECT_EQ(metrics_request_status("GET /metrics HTTP/1.1\r\nHost: x\r\n\r"), std::nullopt);
}

TEST(MetricsRequest, AnswersGetMetricsAndRefusesEverythingElseWithItsStatus) {
  EXPECT_EQ(metrics_request_status("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"), 200);
  EXPECT_EQ(metrics_request_status("GET /metrics HTTP/1.0\r\n\r\n"), 200);
  EXPECT_EQ(metrics_request_status("GET /metrics?x=1 HTTP/1.1\n\n"), 200) << "bare LF, a query";
  EXPECT_EQ(metrics_request_status("GET / HTTP/1.1\r\n\r\n"), 404);
  EXPECT_EQ(metrics_request_status("GET /metrics/ HTTP/1.1\r\n\r\n"), 404);
  EXPECT_EQ(metrics_request_status("POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"), 405);
  EXPECT_EQ(metrics_request_status("HEAD /metrics HTTP/1.1\r\n\r\n"), 405);
  EXPECT_EQ(metrics_request_status("DELETE /other HTTP/1.1\r\n\r\n"), 404);
  EXPECT_EQ(metrics_request_status("GET /metrics HTTP/2.0\r\n\r\n"), 400);
  EXPECT_EQ(metrics_request_status("GET /metrics\r\n\r\n"), 400);
  EXPECT_EQ(metrics_request_status("GET  /metrics HTTP/1.1\r\n\r\n"), 400);
  EXPECT_EQ(metrics_request_status("GET metrics HTTP/1.1\r\n\r\n"), 400);
  EXPECT_EQ(metrics_request_status("G(T /metrics HTTP/1.1\r\n\r\n"), 400);
  using namespace std::string_view_literals;
  EXPECT_EQ(metrics_request_status("\x16\x03\x01\x02\x00\x01\r\n\r\n"sv), 400) << "TLS on a plain port";
}

TEST(MetricsRequest, AHeadThatDoesNotEndWithinTheBoundIsTooLarge) {
  std::string head = "GET /metrics HTTP/1.1\r\nX: " + std::string(kMaxRequestHead, 'a');
  EXPECT_EQ(metrics_request_status(head.substr(0, kMaxRequestHead - 1)), std::nullopt);
  EXPECT_EQ(metrics_request_status(head.substr(0, kMaxRequestHead)), 431);
  EXPECT_EQ(metrics_request_status(head + "\r\n\r\n"), 431) << "ends, but past the bound";
}

TEST(HttpResponse, CarriesLengthTypeAndCloseAndAllowOn405) {
  EXPECT_EQ(http_response(200, kPrometheusContentType, "a 1\n"),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
            "Content-Length: 4\r\nConnection: close\r\n\r\na 1\n");
  const std::string refused = http_response(405, kPrometheusContentType, "ignored");
  EXPECT_TRUE(refused.starts_with("HTTP/1.1 405 Method Not Allowed\r\n")) << refused;
  EXPECT_NE(refused.find("\r\nAllow: GET\r\n"), std::string::npos) << refused;
  EXPECT_EQ(refused.find("ignored"), std::string::npos);
  const std::string missing = http_response(404, kPrometheusContentType, "");
  const std::string body = missing.substr(missing.find("\r\n\r\n") + 4);
  EXPECT_NE(missing.find("Content-Length: " + std::to_string(body.size()) + "\r\n"), std::string::npos) << missing;
  EXPECT_NE(missing.find("Content-Type: text/plain; charset=utf-8\r\n"), std::string::npos) << missing;
}

}  // namespace
}  // namespace sockit::cli
