// `--metrics ADDR` of `sockit echo` and `sockit relay`: an HTTP endpoint serving
// GET /metrics in Prometheus's text format (metrics_text.hpp), on sockit's own
// event loop: a net::Server with one worker thread of its own.
//
// Why its own loop thread and not the echo server's loop: a scrape reads TCP_INFO
// of every live connection through tasks posted to the served server's workers
// and waits (at most 1 s) for them; on one of those workers it would hold that
// worker's echo traffic meanwhile, and a slow scraper would share a loop with the
// clients being measured. On its own thread, a scrape costs the workers one task
// each, and nothing a scraper does can stall them.
//
// Why not prometheus-cpp's Exposer (civetweb): it brings an HTTP server with its
// own thread pool and settings to the process, where sockit has a server with
// the bounds it wants (below) and the point of the CLI is to run on sockit.
//
// Bounds, so a slow or hostile scraper cannot hold it: kMaxScrapers connections
// at once (more are accepted and closed at once), the request head at most
// kMaxRequestHead bytes (431 beyond), the whole request within kRequestDeadline of
// the accept (408 and close after), one request per connection, and the close
// after the response waits at most kCloseLinger for the scraper's FIN.
//
// Threads: start/local_address/shutdown from the controlling thread; `render` is
// called on the metrics loop thread, once per GET /metrics.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

#include "sockit/metrics.hpp"
#include "sockit/net/server.hpp"

namespace sockit::cli {

inline constexpr std::size_t kMaxScrapers = 8;
inline constexpr std::chrono::milliseconds kRequestDeadline{5000};
inline constexpr std::chrono::milliseconds kCloseLinger{1000};

class MetricsServer {
 public:
  // Appends what is to be served (Server::append_metrics and the like).
  using Render = std::function<void(MetricsSnapshot&)>;

  // Listens on `address` (tcp:// or unix: stream) and serves at once.
  [[nodiscard]] static Result<std::unique_ptr<MetricsServer>> start(const Address& address, Render render);
  [[nodiscard]] const Address& local_address() const { return server_->local_address(); }
  // Stops serving (a scrape under way is cut) and joins the loop thread. Call it
  // before whatever `render` reads goes away.
  void shutdown() { server_->shutdown(std::chrono::milliseconds(0)); }

 private:
  MetricsServer() = default;
  std::unique_ptr<net::Server> server_;
};

// Registers --metrics ADDR on a server command.
CLI::Option* add_metrics_option(CLI::App& app, std::string& address);

// The parsed --metrics address, or nullopt after a usage error line
// ("sockit: OPERATION ADDRESS: why"; the caller exits 2): it must parse and be a
// tcp:// or unix: (path or abstract) stream address.
[[nodiscard]] std::optional<Address> metrics_address(std::string_view operation, std::string_view address_text,
                                                     const std::string& metrics);

// Starts the endpoint and prints "sockit: metrics on ADDR (GET /metrics)" on stderr
// (with the real port for port 0); on failure prints the error and returns null.
// An error reads "sockit: OPERATION --metrics METRICS_TEXT: cause".
[[nodiscard]] std::unique_ptr<MetricsServer> serve_metrics(std::string_view operation, std::string_view metrics_text,
                                                           const Address& address, MetricsServer::Render render);

}  // namespace sockit::cli
