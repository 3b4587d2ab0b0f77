// The HTTP endpoint of `--metrics`: one request per connection, bounded in size
// and time (metrics_server.hpp).
#include "metrics_server.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cstdio>

#include "address_arg.hpp"
#include "errors.hpp"
#include "metrics_http.hpp"
#include "metrics_text.hpp"

namespace sockit::cli {
namespace {

// One connection's request as it arrives; the deadline resets what is still
// unanswered when it fires.
struct Exchange {
  std::string received;
  bool answered = false;
  event::TimerHandle deadline;
};

void answer(net::Connection& connection, Exchange& exchange, int status, std::string_view body) {
  exchange.answered = true;
  exchange.deadline.cancel();
  // Refused only if the output bound is exceeded (the body is a few KiB) or the
  // connection is already closing: either way close() below ends it.
  (void)connection.send(http_response(status, kPrometheusContentType, body));
  connection.close();
}

void serve(net::Connection& connection, const std::shared_ptr<const MetricsServer::Render>& render) {
  auto exchange = std::make_shared<Exchange>();
  std::weak_ptr<net::Connection> weak = connection.shared_from_this();
  // Weak both: a cancelled timer's task stays queued until its time, and must not
  // keep the exchange (or the connection) alive that long.
  std::weak_ptr<Exchange> weak_exchange = exchange;
  exchange->deadline = connection.loop().run_after(kRequestDeadline, [weak, weak_exchange] {
    auto c = weak.lock();
    auto e = weak_exchange.lock();
    if (c && e && !e->answered) answer(*c, *e, 408, {});
  });
  connection.on_message([exchange, render](net::Connection& c, std::span<const std::byte> bytes) {
    if (exchange->answered) return;  // one request per connection: the rest is not read into anything
    // Never more than the bound is kept: past it the status is 431 anyway.
    const std::size_t room = kMaxRequestHead - exchange->received.size();
    exchange->received.append(reinterpret_cast<const char*>(bytes.data()), std::min(bytes.size(), room));
    const std::optional<int> status = metrics_request_status(exchange->received);
    if (!status) return;
    if (*status != 200) return answer(c, *exchange, *status, {});
    MetricsSnapshot snapshot;
    (*render)(snapshot);
    answer(c, *exchange, 200, prometheus_text(snapshot));
  });
  connection.on_close([exchange](net::Connection&, std::error_code) { exchange->deadline.cancel(); });
}

}  // namespace

Result<std::unique_ptr<MetricsServer>> MetricsServer::start(const Address& address, Render render) {
  net::ServerOptions options;
  options.threads = 1;
  options.max_connections = kMaxScrapers;
  options.connection.close_linger = kCloseLinger;
  auto shared_render = std::make_shared<const Render>(std::move(render));
  auto server = net::Server::create(address, std::move(options), [shared_render](net::Connection& connection) {
    serve(connection, shared_render);
  });
  if (!server) return fail(server.error());
  if (auto started = (*server)->start(); !started) return fail(started.error());
  std::unique_ptr<MetricsServer> metrics(new MetricsServer());
  metrics->server_ = std::move(*server);
  return metrics;
}

CLI::Option* add_metrics_option(CLI::App& app, std::string& address) {
  return app.add_option("--metrics", address,
                        "Serve the server's metrics on ADDR (tcp://HOST:PORT or unix:PATH) over HTTP:\n"
                        "GET /metrics in Prometheus's text format (docs/METRICS.md lists them)")
      ->type_name("ADDR");
}

std::optional<Address> metrics_address(std::string_view operation, std::string_view address_text,
                                       const std::string& metrics) {
  auto parsed = parse_address_arg(metrics);
  if (!parsed) return std::nullopt;  // parse_address_arg said why
  if (parsed->transport() != Transport::tcp && parsed->transport() != Transport::unix_stream) {
    usage_error(operation, address_text,
                fmt::format("--metrics {}: HTTP needs a stream address (tcp:// or unix:)", metrics));
    return std::nullopt;
  }
  return parsed;
}

std::unique_ptr<MetricsServer> serve_metrics(std::string_view operation, std::string_view metrics_text,
                                             const Address& address, MetricsServer::Render render) {
  auto metrics = MetricsServer::start(address, std::move(render));
  if (!metrics) {
    print_error(fmt::format("{} --metrics", operation), metrics_text, metrics.error());
    return nullptr;
  }
  fmt::print(stderr, "sockit: metrics on {} (GET /metrics)\n", (*metrics)->local_address().to_string());
  std::fflush(stderr);
  return std::move(*metrics);
}

}  // namespace sockit::cli
