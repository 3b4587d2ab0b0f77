// `sockit load --mode echo`: C connections, each keeping up to --depth messages in
// flight (closed loop: a new one as each echo comes back; --rate: on a schedule),
// every echoed byte checked against the message that was sent.
//
// Phases, per thread: connect every connection of the share; wait (LoadShared's
// latch) until every thread has, so the traffic starts together and measures
// all C at work; send for --warmup (not counted) and --duration (counted);
// then let the messages in flight come back (verified, not counted) and close
// each connection gracefully. A message counts when it was sent (or, with
// --rate, scheduled) after the warm-up and its echo completed before the end.
//
// With --rate, a message's latency runs from its scheduled time, not from when
// it went out: a server that stalls delays the messages queued behind the stall,
// and they carry that delay (no coordinated omission).
#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <memory>
#include <vector>

#include "errors.hpp"
#include "load_run.hpp"
#include "load_verify.hpp"
#include "log.hpp"

namespace sockit::cli {
namespace {

using std::chrono::nanoseconds;
using TimePoint = LoadClock::time_point;

struct EchoConnection {
  std::uint64_t id = 0;     // its number in the whole run (payload, messages)
  std::uint64_t quota = 0;  // --messages: its share of counted messages
  std::unique_ptr<net::Connector> connector;
  std::shared_ptr<net::Connection> connection;
  std::uint64_t next_send = 0;   // the number of the next message to send
  EchoCursor echo;               // the echo's progress, checked byte by byte
  std::uint64_t measured_taken = 0;  // messages sent or scheduled after the warm-up
  std::deque<TimePoint> in_flight;  // their send (--rate: scheduled) times, oldest first
  // --rate: its scheduled messages waiting for room within --depth, as a range of
  // the thread's schedule slots (every n-th slot is this connection's, n = the
  // thread's connections): O(1) memory however far a stalled server falls behind.
  std::uint64_t due_from = 0;  // the first waiting slot
  std::uint64_t due_count = 0;
  TimePoint last_progress;          // the last echo byte, or when the wait for one began
  bool closing = false;             // we are closing it: its close is no error
};

class EchoWorker {
 public:
  explicit EchoWorker(LoadContext& context)
      : loop_(context.loop),
        options_(context.options),
        share_(context.share),
        shared_(context.shared),
        payload_(options_.seed, options_.sizes, options_.framing == net::Framing::Kind::line),
        scratch_(options_.sizes.max),
        connections_(share_.count) {
    for (std::size_t i = 0; i < connections_.size(); ++i) {
      connections_[i].id = share_.first + i;
      connections_[i].quota = message_quota(options_, share_.first + i);
    }
  }

  LoadTally run() {
    pending_connects_ = connections_.size();
    for (std::size_t i = 0; i < connections_.size() && !failing_; ++i) connect(i);
    if (!failing_) loop_.run();
    if (!arrived_) shared_.arrive_connected();  // cannot happen; never leave the others waiting
    if (traffic_started_) window_.report(warmup_end_, tally_);
    return std::move(tally_);
  }

 private:
  // ---- connecting ----
  void connect(std::size_t i) {
    EchoConnection& c = connections_[i];
    // A few attempts: a Unix server's full backlog (EAGAIN) or a SYN queue that
    // overflows under thousands of connects is cured by a retry; a server that
    // is not there is reported in a few hundred milliseconds, not after the timeout.
    auto connector = load_connector(loop_, options_, 5);
    if (!connector) return connect_failed(c, connector.error());
    c.connector = std::move(*connector);
    c.connector->start([this, i](Result<Fd> fd) { connected(i, std::move(fd)); });
  }

  void connected(std::size_t i, Result<Fd> fd) {
    EchoConnection& c = connections_[i];
    if (!fd) return connect_failed(c, fd.error());
    auto connection = net::make_connection(
        loop_, std::move(fd), load_connection_options(options_, std::chrono::milliseconds(2000)));
    if (!connection) return connect_failed(c, connection.error());
    c.connection = std::move(*connection);
    c.connection->on_message([this, i](net::Connection&, std::span<const std::byte> data) { echoed(i, data); });
    c.connection->on_close([this, i](net::Connection&, std::error_code reason) { closed(i, reason); });
    c.connection->start();
    if (--pending_connects_ == 0) all_connected();
  }

  void connect_failed(EchoConnection& c, std::error_code ec) {
    std::string message = fmt::format("connection {} of {}: connect: {}", c.id, options_.connections, describe(ec));
    if (auto hint = hint_for("connect", options_.address.to_string(), ec); !hint.empty()) {
      message += fmt::format(" ({})", hint);
    }
    fail(std::move(message));
  }

  void all_connected() {
    arrived_ = true;
    shared_.arrive_connected();  // blocks until every thread is here
    if (shared_.failed()) return abort_all();
    for (EchoConnection& c : connections_) c.connector.reset();
    note("load: connections {} to {} connected; traffic starts", share_.first, share_.first + share_.count - 1);
    begin_traffic();
  }

  // ---- sending ----
  void begin_traffic() {
    traffic_started_ = true;
    const TimePoint now = LoadClock::now();
    start_ = now;
    warmup_end_ = now + options_.warmup;
    if (options_.duration) end_ = warmup_end_ + *options_.duration;
    if (options_.warmup.count() == 0) {
      window_.start_cpu();
    } else {
      warmup_timer_ = loop_.run_after(options_.warmup, [this] { window_.start_cpu(); });
    }
    if (end_) end_timer_ = loop_.run_after(*end_ - now, [this] { end_traffic(); });
    housekeeping_timer_ = loop_.run_every(kLoadCheckInterval, [this] { housekeeping(); });
    for (EchoConnection& c : connections_) c.last_progress = now;
    if (share_.rate > 0) {
      rate_tick();
    } else {
      for (EchoConnection& c : connections_) fill(c);
    }
    for (EchoConnection& c : connections_) maybe_finish(c);
  }

  // May connection c take another message scheduled (or sent) at `at`?
  bool may_send(const EchoConnection& c, TimePoint at) const {
    if (ended_ || failing_ || c.closing) return false;
    return at < warmup_end_ || c.measured_taken < c.quota;
  }

  void take(EchoConnection& c, TimePoint at) {
    if (at >= warmup_end_) ++c.measured_taken;
  }

  // Closed loop: keep --depth messages in flight.
  void fill(EchoConnection& c) {
    while (c.in_flight.size() < options_.depth && !failing_) {
      const TimePoint now = LoadClock::now();
      if (!may_send(c, now)) return;
      take(c, now);
      send_one(c, now);
    }
  }

  // --rate: the thread's share of the rate as one schedule, message j at
  // start + j / rate, dealt to its connections in turn. Sent at once if the
  // connection has room within --depth, queued (due) otherwise.
  void rate_tick() {
    const TimePoint now = LoadClock::now();
    const double interval_ns = 1e9 / share_.rate;
    TimePoint slot = slot_time(next_slot_, interval_ns);
    while (slot <= now && !ended_ && !failing_) {
      EchoConnection& c = connections_[next_slot_ % connections_.size()];
      ++next_slot_;
      if (may_send(c, slot)) {
        take(c, slot);
        if (c.due_count++ == 0) c.due_from = next_slot_ - 1;
        send_due(c);
      }
      slot = slot_time(next_slot_, interval_ns);
    }
    if (ended_ || failing_) return;
    rate_timer_ = loop_.run_after(slot - now, [this] { rate_tick(); });
  }

  TimePoint slot_time(std::uint64_t slot, double interval_ns) const {
    return start_ + nanoseconds(std::llround(static_cast<double>(slot) * interval_ns));
  }

  void send_due(EchoConnection& c) {
    const double interval_ns = 1e9 / share_.rate;
    while (c.due_count > 0 && c.in_flight.size() < options_.depth && !failing_ && !c.closing) {
      const TimePoint scheduled = slot_time(c.due_from, interval_ns);
      c.due_from += connections_.size();
      --c.due_count;
      send_one(c, scheduled);
    }
  }

  void send_one(EchoConnection& c, TimePoint stamp) {
    const std::size_t size = payload_.size_of(c.id, c.next_send);
    const std::span<std::byte> message(scratch_.data(), size);
    payload_.fill(c.id, c.next_send, message);
    if (Status sent = c.connection->send(std::span<const std::byte>(message)); !sent) {
      return fail(fmt::format("connection {}, message {}: send: {}", c.id, c.next_send, describe(sent.error())));
    }
    if (c.in_flight.empty()) c.last_progress = LoadClock::now();  // the wait for an echo starts now
    c.in_flight.push_back(stamp);
    ++c.next_send;
  }

  // ---- receiving ----
  void echoed(std::size_t i, std::span<const std::byte> data) {
    EchoConnection& c = connections_[i];
    if (failing_) return;
    c.last_progress = LoadClock::now();
    const bool framed = options_.framing != net::Framing::Kind::raw;
    std::string wrong =
        c.echo.check(payload_, framed, c.id, c.in_flight.size(), data, [&](std::size_t size) { complete(c, size); });
    if (!wrong.empty()) return fail(std::move(wrong));
    if (share_.rate > 0) {
      send_due(c);
    } else {
      fill(c);
    }
    maybe_finish(c);
  }

  void complete(EchoConnection& c, std::size_t size) {
    const TimePoint sent = c.in_flight.front();
    c.in_flight.pop_front();
    const TimePoint now = LoadClock::now();
    if (sent >= warmup_end_ && (!end_ || now < *end_)) {
      tally_.latency.record(static_cast<std::uint64_t>(std::chrono::duration_cast<nanoseconds>(now - sent).count()));
      ++tally_.messages;
      tally_.bytes += size;
      last_counted_ = now;
    }
  }

  // ---- ending ----
  // Done sending and nothing awaited: close it (gracefully: the server sees an
  // orderly end of stream, not a reset).
  void maybe_finish(EchoConnection& c) {
    if (c.closing || failing_ || !c.connection || !c.in_flight.empty() || c.due_count > 0) return;
    const bool quota_done = c.measured_taken >= c.quota && LoadClock::now() >= warmup_end_;
    if (!ended_ && !quota_done) return;
    c.closing = true;
    c.connection->close();
  }

  void closed(std::size_t i, std::error_code reason) {
    EchoConnection& c = connections_[i];
    if (!c.closing && !failing_) {
      const std::string why = reason ? describe(reason) : "closed by the server";
      return fail(fmt::format("connection {}: {} after {} messages echoed ({} awaited)", c.id, why, c.echo.message,
                              c.in_flight.size()));
    }
    c.closing = true;
    if (++closed_ == connections_.size() && !failing_) finish();
  }

  void end_traffic() {
    ended_ = true;
    window_.end(*end_);
    rate_timer_.cancel();
    for (EchoConnection& c : connections_) {
      c.due_count = 0;
      maybe_finish(c);
    }
  }

  // Every connection closed by us: the share is done (the end, or every quota).
  void finish() {
    window_.end(last_counted_.value_or(warmup_end_));  // unless the end came first
    loop_.stop();
  }

  void housekeeping() {
    if (failing_) return;
    if (shared_.failed()) return abort_all();  // another thread failed
    const TimePoint now = LoadClock::now();
    if (shared_.interrupted() && !ended_) {  // Ctrl-C: the run ends here, as if --duration had
      end_ = now;
      end_timer_.cancel();
      return end_traffic();
    }
    for (const EchoConnection& c : connections_) {
      if (!c.in_flight.empty() && !c.closing && now - c.last_progress > kNoEchoLimit) {
        return fail(fmt::format("connection {}: no echo for {} s (message {} awaited; the server stopped answering)",
                                c.id, kNoEchoLimit.count(), c.echo.message));
      }
    }
  }

  // The first error ends the whole run: every thread stops at its next check.
  void fail(std::string message) {
    if (failing_) return;
    shared_.fail(std::move(message));
    if (!arrived_) {
      arrived_ = true;
      shared_.arrive_connected();
    }
    abort_all();
  }

  void abort_all() {
    failing_ = true;
    // The window ends here (a failed run still reports what it measured up to now).
    if (traffic_started_) window_.end(LoadClock::now());
    warmup_timer_.cancel();
    end_timer_.cancel();
    rate_timer_.cancel();
    housekeeping_timer_.cancel();
    for (EchoConnection& c : connections_) {
      c.connector.reset();
      c.closing = true;
      if (c.connection && c.connection->is_open()) c.connection->abort();
    }
    loop_.stop();
  }

  event::EventLoop& loop_;
  const LoadOptions& options_;
  const LoadShare share_;
  LoadShared& shared_;
  const LoadPayload payload_;
  std::vector<std::byte> scratch_;  // the message being sent (Connection::send copies it)
  std::vector<EchoConnection> connections_;  // never resized: callbacks hold indexes
  std::size_t pending_connects_ = 0;
  std::size_t closed_ = 0;
  bool arrived_ = false;
  bool traffic_started_ = false;
  bool ended_ = false;
  bool failing_ = false;
  TimePoint start_;
  TimePoint warmup_end_;
  std::optional<TimePoint> end_;
  std::optional<TimePoint> last_counted_;
  MeasuredWindow window_;
  std::uint64_t next_slot_ = 0;
  event::TimerHandle warmup_timer_;
  event::TimerHandle end_timer_;
  event::TimerHandle rate_timer_;
  event::TimerHandle housekeeping_timer_;
  LoadTally tally_;
};

}  // namespace

LoadTally run_echo_share(LoadContext& context) {
  // Connections (destroyed with the worker) go before the loop they borrow.
  EchoWorker worker(context);
  return worker.run();
}

}  // namespace sockit::cli
