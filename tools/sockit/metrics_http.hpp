// The HTTP of `--metrics`: what to answer to the bytes a scraper sent, and the
// response itself. Pure functions (no sockets), so every answer is unit-tested;
// metrics_server.cpp does the I/O.
//
// One request per connection (the response says Connection: close): Prometheus
// and curl need no more, and a server that never reads a second request cannot be
// held by a client that pipelines. The request head is bounded (kMaxRequestHead);
// its body, if any, is never read.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace sockit::cli {

// A scrape's request is ~100 bytes (curl's, Prometheus's); 8 KiB leaves room for
// long headers and is what many servers allow, and caps what one connection holds.
inline constexpr std::size_t kMaxRequestHead = 8 * 1024;

// The status to answer once enough of the request is in, or nullopt while the
// head (request line and headers, up to the empty line) is not complete yet:
//  200 GET /metrics (a query string is allowed and ignored);
//  404 another path;  405 /metrics with another method (the answer says Allow: GET);
//  400 a malformed request line or not HTTP/1.x;
//  431 no end of the head within kMaxRequestHead bytes (Request Header Fields Too Large).
[[nodiscard]] std::optional<int> metrics_request_status(std::string_view received);

// A complete HTTP/1.1 response with `body`, Content-Length and Connection: close;
// 405 adds Allow: GET. `content_type` is for a 200; other statuses carry a one-line
// text/plain explanation instead of `body`.
[[nodiscard]] std::string http_response(int status, std::string_view content_type, std::string_view body);

}  // namespace sockit::cli
