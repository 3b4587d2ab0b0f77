// `sockit load --mode flood`: opens C connections at once, sends one message on
// each and holds them open for --duration, then reports how the server treated
// them: served (echoed, held to the end), dropped (echoed, then closed by the
// server), closed before echoing (accepted, then closed or reset: what a server
// at its --max-conns does), refused at connect, or unanswered (no connect or no
// echo by the end: in a backlog nobody accepts from, say). For testing limits.
//
// Only a wrong echo is an error; every other outcome is the measurement.
#include <fmt/core.h>

#include <memory>
#include <vector>

#include "errors.hpp"
#include "load_run.hpp"
#include "load_verify.hpp"

namespace sockit::cli {
namespace {

using TimePoint = LoadClock::time_point;

enum class FloodState : std::uint8_t { connecting, awaiting_echo, served, dropped, closed_early, refused };

struct FloodConnection {
  std::uint64_t id = 0;
  std::unique_ptr<net::Connector> connector;
  std::shared_ptr<net::Connection> connection;
  EchoCursor echo;
  FloodState state = FloodState::connecting;
  bool closing = false;  // closed by us at the end
};

class FloodWorker {
 public:
  explicit FloodWorker(LoadContext& context)
      : loop_(context.loop),
        options_(context.options),
        shared_(context.shared),
        payload_(options_.seed, options_.sizes, options_.framing == net::Framing::Kind::line),
        connections_(context.share.count) {
    for (std::size_t i = 0; i < connections_.size(); ++i) connections_[i].id = context.share.first + i;
  }

  LoadTally run() {
    start_ = LoadClock::now();
    window_.start_cpu();
    // --duration is required for flood (checked by the command), so the hold ends.
    end_timer_ = loop_.run_after(*options_.duration, [this] { end(); });
    failure_check_ = loop_.run_every(kLoadCheckInterval, [this] {
      if (shared_.failed()) return abort_all();
      if (shared_.interrupted() && !ended_) end();  // Ctrl-C: the hold ends here, as if --duration had
    });
    for (std::size_t i = 0; i < connections_.size() && !failing_; ++i) connect(i);
    if (!failing_) loop_.run();
    window_.report(start_, tally_);
    return std::move(tally_);
  }

 private:
  void connect(std::size_t i) {
    FloodConnection& c = connections_[i];
    // One attempt each: a refusal is what is being counted, not something to retry.
    auto connector = load_connector(loop_, options_, 1);
    if (!connector) return fail(fmt::format("connection {}: connect: {}", c.id, describe(connector.error())));
    c.connector = std::move(*connector);
    c.connector->start([this, i](Result<Fd> fd) { connected(i, std::move(fd)); });
  }

  void connected(std::size_t i, Result<Fd> fd) {
    FloodConnection& c = connections_[i];
    auto connection = net::make_connection(
        loop_, std::move(fd), load_connection_options(options_, std::chrono::milliseconds(1000)));
    if (!connection) {
      if (tally_.first_connect_error.empty()) tally_.first_connect_error = describe(connection.error());
      note_failure(noted_, c.id, "connect: " + describe(connection.error()));
      return settle(c, FloodState::refused);
    }
    c.connection = std::move(*connection);
    c.state = FloodState::awaiting_echo;
    c.connection->on_message([this, i](net::Connection&, std::span<const std::byte> data) { echoed(i, data); });
    c.connection->on_close([this, i](net::Connection&, std::error_code reason) { closed(i, reason); });
    c.connection->start();
    std::vector<std::byte> probe(payload_.size_of(c.id, 0));
    payload_.fill(c.id, 0, probe);
    if (Status sent = c.connection->send(std::span<const std::byte>(probe)); !sent) {
      return fail(fmt::format("connection {}, message 0: send: {}", c.id, describe(sent.error())));
    }
  }

  void echoed(std::size_t i, std::span<const std::byte> data) {
    FloodConnection& c = connections_[i];
    if (failing_) return;
    const bool framed = options_.framing != net::Framing::Kind::raw;
    const std::uint64_t awaited = c.state == FloodState::awaiting_echo ? 1 : 0;
    std::string wrong = c.echo.check(payload_, framed, c.id, awaited, data, [&](std::size_t) {
      c.state = FloodState::served;
      tally_.latency.record(static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(LoadClock::now() - start_).count()));
    });
    if (!wrong.empty()) fail(std::move(wrong));
  }

  void closed(std::size_t i, std::error_code reason) {
    FloodConnection& c = connections_[i];
    if (failing_) return;
    if (!c.closing) {
      const std::string when = c.state == FloodState::served ? " after the echo" : " before the echo";
      note_failure(noted_, c.id, (reason ? describe(reason) : "closed by the server") + when);
    }
    if (!c.closing) return settle(c, c.state == FloodState::served ? FloodState::dropped : FloodState::closed_early);
    if (++closed_ == open_at_end_) loop_.stop();  // the last one we closed at the end
  }

  // An outcome before the end. When every connection has one and none is open,
  // there is nothing left to hold: the run ends early.
  void settle(FloodConnection& c, FloodState state) {
    c.state = state;
    if (++settled_ == connections_.size() && !ended_) end();
  }

  void end() {
    ended_ = true;
    window_.end(LoadClock::now());
    end_timer_.cancel();
    for (FloodConnection& c : connections_) {
      c.connector.reset();
      switch (c.state) {
        case FloodState::served: ++tally_.served; break;
        case FloodState::dropped: ++tally_.dropped; break;
        case FloodState::closed_early: ++tally_.closed_early; break;
        case FloodState::refused: ++tally_.refused; break;
        case FloodState::connecting:
        case FloodState::awaiting_echo: ++tally_.unanswered; break;
      }
      if (c.connection && c.connection->is_open() && !c.closing) {
        c.closing = true;
        ++open_at_end_;
      }
    }
    if (open_at_end_ == 0) return loop_.stop();
    for (FloodConnection& c : connections_) {
      if (c.closing) c.connection->close();  // gracefully; its on_close ends the run with the last
    }
  }

  void fail(std::string message) {
    if (failing_) return;
    shared_.fail(std::move(message));
    abort_all();
  }

  void abort_all() {
    failing_ = true;
    window_.end(LoadClock::now());
    end_timer_.cancel();
    failure_check_.cancel();
    for (FloodConnection& c : connections_) {
      c.connector.reset();
      c.closing = true;
      if (c.connection && c.connection->is_open()) c.connection->abort();
    }
    loop_.stop();
  }

  event::EventLoop& loop_;
  const LoadOptions& options_;
  LoadShared& shared_;
  const LoadPayload payload_;
  std::vector<FloodConnection> connections_;  // never resized: callbacks hold indexes
  std::size_t settled_ = 0;
  std::size_t noted_ = 0;  // -v lines so far
  std::size_t open_at_end_ = 0;
  std::size_t closed_ = 0;
  bool ended_ = false;
  bool failing_ = false;
  TimePoint start_;
  MeasuredWindow window_;
  event::TimerHandle end_timer_;
  event::TimerHandle failure_check_;
  LoadTally tally_;
};

}  // namespace

LoadTally run_flood_share(LoadContext& context) {
  FloodWorker worker(context);
  return worker.run();
}

}  // namespace sockit::cli
