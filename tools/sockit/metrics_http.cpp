#include "metrics_http.hpp"

#include <fmt/core.h>

#include <algorithm>

namespace sockit::cli {
namespace {

// RFC 9110's token characters, for the method.
bool is_token(std::string_view text) {
  constexpr std::string_view kSpecials = "!#$%&'*+-.^_`|~";
  return !text.empty() && std::ranges::all_of(text, [&](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           kSpecials.find(c) != std::string_view::npos;
  });
}

// Where the head ends (just after its empty line), or npos. A bare LF is taken
// for CRLF, as RFC 9112 allows a recipient to.
std::size_t head_end(std::string_view received) {
  for (std::size_t at = received.find('\n'); at != std::string_view::npos; at = received.find('\n', at + 1)) {
    const std::string_view rest = received.substr(at + 1);
    if (rest.starts_with("\r\n")) return at + 3;
    if (rest.starts_with("\n")) return at + 2;
  }
  return std::string_view::npos;
}

int request_line_status(std::string_view line) {
  if (line.ends_with('\r')) line.remove_suffix(1);
  const auto first = line.find(' ');
  const auto second = first == std::string_view::npos ? first : line.find(' ', first + 1);
  if (second == std::string_view::npos || line.find(' ', second + 1) != std::string_view::npos) return 400;
  const std::string_view method = line.substr(0, first);
  const std::string_view target = line.substr(first + 1, second - first - 1);
  const std::string_view version = line.substr(second + 1);
  if (!is_token(method) || !target.starts_with('/') || (version != "HTTP/1.1" && version != "HTTP/1.0")) {
    return 400;
  }
  if (target.substr(0, target.find('?')) != "/metrics") return 404;
  return method == "GET" ? 200 : 405;
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 431: return "Request Header Fields Too Large";
    default: return "Error";
  }
}

std::string_view explanation(int status) {
  switch (status) {
    case 404: return "not found: the metrics are at /metrics\n";
    case 405: return "method not allowed: GET /metrics\n";
    case 408: return "request timeout: the request did not arrive in time\n";
    case 431: return "request too large\n";
    default: return "bad request: send GET /metrics HTTP/1.1\n";
  }
}

}  // namespace

std::optional<int> metrics_request_status(std::string_view received) {
  // Not ended yet (npos), or ended past the bound.
  if (head_end(received) > kMaxRequestHead) {
    if (received.size() >= kMaxRequestHead) return 431;
    return std::nullopt;
  }
  return request_line_status(received.substr(0, received.find('\n')));
}

std::string http_response(int status, std::string_view content_type, std::string_view body) {
  if (status != 200) {
    body = explanation(status);
    content_type = "text/plain; charset=utf-8";
  }
  return fmt::format("HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{}Connection: close\r\n\r\n{}",
                     status, reason_phrase(status), content_type, body.size(),
                     status == 405 ? "Allow: GET\r\n" : "", body);
}

}  // namespace sockit::cli
