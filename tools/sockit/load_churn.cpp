// `sockit load --mode churn`: C slots, each in a loop of connect, one message,
// its echo verified, close (gracefully: the server's end is seen before the
// slot connects again), as fast as the server allows, for --duration or until
// --messages exchanges. Measures connections per second and the time from the
// connect to the verified echo.
//
// A connect that fails or a connection the server closes before echoing is a
// statistic here (a server at its --max-conns does that), counted, and the slot
// goes on; a wrong echo is an error that ends the run.
#include <fmt/core.h>

#include <memory>
#include <vector>

#include "errors.hpp"
#include "load_run.hpp"
#include "load_verify.hpp"

namespace sockit::cli {
namespace {

using TimePoint = LoadClock::time_point;

struct ChurnSlot {
  std::uint64_t id = 0;     // the slot's connection number; exchange n sends its message n
  std::uint64_t quota = 0;  // --messages: its share of counted exchanges
  std::uint64_t counted = 0;
  std::unique_ptr<net::Connector> connector;
  std::shared_ptr<net::Connection> connection;
  // The last exchange's connection, kept from its own on_close until the slot
  // begins again, so it is never destroyed inside its own callback.
  std::shared_ptr<net::Connection> retired;
  EchoCursor echo;  // echo.message: the exchange in progress
  TimePoint began;  // when this exchange's connect started
  bool echoed = false;  // this exchange's echo is verified: the close is ours
  bool idle = false;    // done: the end came, or its quota
};

class ChurnWorker {
 public:
  explicit ChurnWorker(LoadContext& context)
      : loop_(context.loop),
        options_(context.options),
        shared_(context.shared),
        payload_(options_.seed, options_.sizes, options_.framing == net::Framing::Kind::line),
        scratch_(options_.sizes.max),
        slots_(context.share.count) {
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      slots_[i].id = context.share.first + i;
      slots_[i].quota = message_quota(options_, context.share.first + i);
    }
  }

  LoadTally run() {
    const TimePoint now = LoadClock::now();
    warmup_end_ = now + options_.warmup;
    if (options_.duration) end_ = warmup_end_ + *options_.duration;
    if (options_.warmup.count() == 0) {
      window_.start_cpu();
    } else {
      warmup_timer_ = loop_.run_after(options_.warmup, [this] { window_.start_cpu(); });
    }
    if (end_) end_timer_ = loop_.run_after(*end_ - now, [this] { end(); });
    failure_check_ = loop_.run_every(kLoadCheckInterval, [this] {
      if (shared_.failed()) return abort_all();
      if (shared_.interrupted() && !ended_) {  // Ctrl-C: the run ends here, as if --duration had
        end_ = LoadClock::now();
        end_timer_.cancel();
        end();
      }
    });
    for (std::size_t i = 0; i < slots_.size(); ++i) begin(i);
    if (!failing_) loop_.run();
    window_.report(warmup_end_, tally_);
    return std::move(tally_);
  }

 private:
  bool counting(TimePoint at) const { return at >= warmup_end_ && (!end_ || at < *end_); }

  void begin(std::size_t i) {
    ChurnSlot& s = slots_[i];
    if (failing_) return;
    s.retired.reset();
    const TimePoint now = LoadClock::now();
    if (ended_ || (s.counted >= s.quota && now >= warmup_end_)) return rest(s);
    s.began = now;
    s.echoed = false;
    auto connector = load_connector(loop_, options_, 1);
    if (!connector) {  // the address itself (a name that no longer resolves): no slot can go on
      return fail(fmt::format("connection {}: connect: {}", s.id, describe(connector.error())));
    }
    s.connector = std::move(*connector);
    s.connector->start([this, i](Result<Fd> fd) { connected(i, std::move(fd)); });
  }

  void connected(std::size_t i, Result<Fd> fd) {
    ChurnSlot& s = slots_[i];
    s.connector.reset();
    auto connection = net::make_connection(
        loop_, std::move(fd), load_connection_options(options_, std::chrono::milliseconds(2000)));
    if (!connection) {
      if (counting(s.began)) ++tally_.connect_failed;
      if (tally_.first_connect_error.empty()) tally_.first_connect_error = describe(connection.error());
      note_failure(noted_, s.id, "connect: " + describe(connection.error()));
      return next(i);
    }
    s.connection = std::move(*connection);
    s.connection->on_message([this, i](net::Connection&, std::span<const std::byte> data) { echoed(i, data); });
    s.connection->on_close([this, i](net::Connection&, std::error_code reason) { closed(i, reason); });
    s.connection->start();
    const std::uint64_t message = s.echo.message;
    const std::span<std::byte> bytes(scratch_.data(), payload_.size_of(s.id, message));
    payload_.fill(s.id, message, bytes);
    if (Status sent = s.connection->send(std::span<const std::byte>(bytes)); !sent) {
      // Refused by the queue (never on a fresh connection): an error of ours, not the server's.
      return fail(fmt::format("connection {}, message {}: send: {}", s.id, message, describe(sent.error())));
    }
  }

  void echoed(std::size_t i, std::span<const std::byte> data) {
    ChurnSlot& s = slots_[i];
    if (failing_ || s.echoed) return;
    const bool framed = options_.framing != net::Framing::Kind::raw;
    std::string wrong = s.echo.check(payload_, framed, s.id, 1, data, [&](std::size_t) {
      s.echoed = true;
      const TimePoint now = LoadClock::now();
      if (counting(s.began) && counting(now)) {
        tally_.latency.record(static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(now - s.began).count()));
        ++tally_.exchanges;
        ++s.counted;
        last_counted_ = now;
      }
    });
    if (!wrong.empty()) return fail(std::move(wrong));
    if (s.echoed) s.connection->close();
  }

  void closed(std::size_t i, std::error_code reason) {
    ChurnSlot& s = slots_[i];
    if (failing_) return;
    if (!s.echoed) {
      if (counting(s.began)) ++tally_.closed_early;
      note_failure(noted_, s.id, reason ? describe(reason) + " before the echo" : "closed by the server before the echo");
      // Whatever came of it, the next exchange uses the next message number.
      s.echo = EchoCursor{.message = s.echo.message + 1};
    }
    s.retired = std::move(s.connection);
    next(i);
  }

  // The next exchange, from the loop: never inside a Connector's or Connection's callback.
  void next(std::size_t i) {
    loop_.post([this, i] { begin(i); });
  }

  void rest(ChurnSlot& s) {
    if (s.idle) return;
    s.idle = true;
    if (++idle_ == slots_.size()) finish();
  }

  void end() {
    ended_ = true;
    window_.end(*end_);
    // Exchanges in progress finish (their slots rest afterwards); bounded by the
    // connect timeout and the close linger.
  }

  void finish() {
    window_.end(last_counted_.value_or(warmup_end_));  // unless the end came first
    loop_.stop();
  }

  void fail(std::string message) {
    if (failing_) return;
    shared_.fail(std::move(message));
    abort_all();
  }

  void abort_all() {
    failing_ = true;
    // The window ends here (a failed run still reports what it measured up to now).
    window_.end(LoadClock::now());
    warmup_timer_.cancel();
    end_timer_.cancel();
    failure_check_.cancel();
    for (ChurnSlot& s : slots_) {
      s.connector.reset();
      if (s.connection && s.connection->is_open()) s.connection->abort();
    }
    loop_.stop();
  }

  event::EventLoop& loop_;
  const LoadOptions& options_;
  LoadShared& shared_;
  const LoadPayload payload_;
  std::vector<std::byte> scratch_;
  std::vector<ChurnSlot> slots_;  // never resized: callbacks hold indexes
  std::size_t idle_ = 0;
  std::size_t noted_ = 0;  // -v lines so far
  bool ended_ = false;
  bool failing_ = false;
  TimePoint warmup_end_;
  std::optional<TimePoint> end_;
  std::optional<TimePoint> last_counted_;
  MeasuredWindow window_;
  event::TimerHandle warmup_timer_;
  event::TimerHandle end_timer_;
  event::TimerHandle failure_check_;
  LoadTally tally_;
};

}  // namespace

LoadTally run_churn_share(LoadContext& context) {
  ChurnWorker worker(context);
  return worker.run();
}

}  // namespace sockit::cli
