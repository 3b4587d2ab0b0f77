// The datagram half of `sockit echo`: one net::DatagramEndpoint per worker loop,
// each datagram sent back to its sender, and the main thread's wait for the stop
// signal.
#include "echo_datagram.hpp"

#include <fmt/format.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <future>
#include <thread>

#include "errors.hpp"
#include "log.hpp"
#include "signals.hpp"

namespace sockit::cli {
namespace {

std::error_code last_errno() { return {errno, std::system_category()}; }

std::string plural(std::uint64_t n, std::string_view noun) {
  return fmt::format("{} {}{}", n, noun, n == 1 ? "" : "s");
}

void add(DatagramEchoStats& total, const DatagramEchoStats& part) {
  total.datagrams_in += part.datagrams_in;
  total.bytes_in += part.bytes_in;
  total.datagrams_out += part.datagrams_out;
  total.bytes_out += part.bytes_out;
  total.truncated += part.truncated;
  total.dropped += part.dropped;
}

}  // namespace

struct DatagramEcho::Worker {
  std::unique_ptr<event::EventLoop> loop;
  std::shared_ptr<net::DatagramEndpoint> endpoint;  // destroyed before the loop
  std::uint64_t unanswerable = 0;                   // loop thread: no reply possible
  DatagramEchoStats final_stats;                    // written by the loop's last task, read after join
  std::thread thread;

  // Loop thread only (the endpoint's counters are).
  [[nodiscard]] DatagramEchoStats snapshot() const {
    const net::DatagramEndpointStats& s = endpoint->stats();
    DatagramEchoStats mine;
    mine.datagrams_in = s.datagrams_in;
    mine.bytes_in = s.bytes_in;
    mine.datagrams_out = s.datagrams_out;
    mine.bytes_out = s.bytes_out;
    mine.truncated = s.truncated;
    mine.dropped = s.dropped + unanswerable;
    return mine;
  }
};

Result<std::unique_ptr<DatagramEcho>> DatagramEcho::start(const Address& address,
                                                          const DatagramEchoOptions& options) {
  if (!address.is_datagram()) return fail(errc::wrong_transport);
  const unsigned n = std::max(1u, options.threads);
  // One thread needs no shared port; several share it among themselves only (see
  // add_worker): a second echo on the same port is refused (address in use)
  // instead of silently splitting the traffic with this one.
  const bool share_port = n > 1;
  if (share_port && address.transport() != Transport::udp) return fail(errc::invalid_argument);

  std::unique_ptr<DatagramEcho> echo(new DatagramEcho());
  echo->failed_ = Fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!echo->failed_.valid()) return fail(last_errno());
  Address bind_address = address;
  for (unsigned i = 0; i < n; ++i) {
    if (auto added = echo->add_worker(bind_address, share_port, options); !added) return fail(added.error());
    if (i == 0) {
      auto local = echo->workers_.front()->endpoint->local_address();
      if (!local) return fail(local.error());
      echo->local_ = *local;
      bind_address = *local;  // the other workers join the port the kernel chose
    }
  }
  echo->backend_ = echo->workers_.front()->loop->backend().name;
  // The loops were made on this thread; each becomes its worker's from run() on.
  for (auto& w : echo->workers_) w->thread = std::thread([loop = w->loop.get()] { loop->run(); });
  return echo;
}

Status DatagramEcho::add_worker(const Address& bind_address, bool share_port,
                                const DatagramEchoOptions& options) {
  auto w = std::make_unique<Worker>();
  auto loop = event::EventLoop::create({.backend = options.backend});
  if (!loop) return fail(loop.error());
  w->loop = std::move(*loop);
  // The first socket binds without SO_REUSEPORT, so a port already in use (by
  // another echo with any number of threads, or anything else) is refused with
  // EADDRINUSE as with one thread; only then does it open the port to the other
  // workers, which set SO_REUSEPORT before their bind (the kernel checks the flag
  // on the sockets already bound). A second echo thus never silently shares the
  // port (net::Server does the same for TCP: docs/ARCHITECTURE.md).
  const bool first = workers_.empty();
  auto socket = DatagramSocket::bind(bind_address, {.unix_file = options.unix_file,
                                                    .reuse_port = share_port && !first,
                                                    .bind_retry_for = options.bind_retry_for,
                                                    .family = options.family});
  if (!socket) return fail(socket.error());
  if (share_port && first) {
    if (auto s = socket->set_reuse_port(true); !s) return fail(s.error());
  }
  const std::size_t max_size = options.max_datagram_size;
  auto endpoint = net::DatagramEndpoint::create(*w->loop, std::move(*socket),
                                                 net::server_endpoint_options(max_size));
  if (!endpoint) return fail(endpoint.error());
  w->endpoint = std::move(*endpoint);

  // The callbacks run on the worker's loop; the Worker outlives its endpoint, and
  // this object outlives every worker.
  Worker& worker = *w;
  worker.endpoint->on_datagram(
      [&worker](net::DatagramEndpoint& e, std::span<const std::byte> data, const Address& from) {
        if (from.is_unnamed()) {
          ++worker.unanswerable;
          note("datagram from an unbound Unix socket: no address to answer");
          return;
        }
        // Refused only when the reply queue is full (the endpoint counts that drop)
        // or the sender's address cannot be used (counted here).
        if (auto sent = e.send_to(data, from); !sent) {
          if (sent.error() != errc::limit_reached) ++worker.unanswerable;
          note("reply to {}: {}: dropped", from.to_string(), describe(sent.error()));
        }
      });
  worker.endpoint->on_truncated([max_size](net::DatagramEndpoint&, std::size_t size, const Address& from) {
    note("datagram of {} bytes from {}: over {} (--max-frame), not echoed", size, from.to_string(), max_size);
  });
  worker.endpoint->on_error(
      [](net::DatagramEndpoint&, std::error_code ec) { note("reply dropped: {}", describe(ec)); });
  worker.endpoint->on_close([this](net::DatagramEndpoint&, std::error_code reason) {
    if (reason) report_failure(reason);
  });
  worker.endpoint->start();
  workers_.push_back(std::move(w));
  return {};
}

void DatagramEcho::report_failure(std::error_code ec) {
  {
    std::lock_guard lock(failure_mutex_);
    if (!failure_) failure_ = ec;
  }
  const std::uint64_t one = 1;
  (void)!::write(failed_.get(), &one, sizeof one);  // cannot fail short of a full counter
}

DatagramEcho::~DatagramEcho() { stop(); }

Result<int> DatagramEcho::wait_for_stop(int signal_fd, std::chrono::milliseconds stats_interval) {
  auto stopped = wait_for_stop_signal(
      signal_fd, stats_interval, [&] { print_datagram_stats_line(collect()); }, failed_.get());
  if (!stopped) {
    failed_in_ = "poll";
    return fail(stopped.error());
  }
  if (stopped->extra_ready) {
    failed_in_ = "receive";
    std::lock_guard lock(failure_mutex_);
    return fail(failure_);
  }
  return stopped->signal;
}

DatagramEchoStats DatagramEcho::collect() {
  // The counters belong to the loop threads: each is asked for its own, in a task
  // that runs between two of its turns (within one turn, a few ms at most).
  std::vector<std::future<DatagramEchoStats>> parts;
  for (auto& w : workers_) {
    std::promise<DatagramEchoStats> promise;
    parts.push_back(promise.get_future());
    w->loop->post(
        [&worker = *w, promise = std::move(promise)]() mutable { promise.set_value(worker.snapshot()); });
  }
  DatagramEchoStats total;
  for (auto& part : parts) add(total, part.get());
  return total;
}

DatagramEchoStats DatagramEcho::stop() {
  if (stopped_) return final_;
  stopped_ = true;
  for (auto& w : workers_) {
    auto finish = [&worker = *w] {
      worker.endpoint->close();
      worker.final_stats = worker.snapshot();
      worker.endpoint.reset();  // on the loop thread, the only one that may touch it
    };
    if (w->thread.joinable()) {
      w->loop->post([&worker = *w, finish] {
        finish();
        worker.loop->stop();
      });
    } else {
      finish();  // start() failed before the threads existed: this is the loop thread
    }
  }
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
    add(final_, w->final_stats);
    final_.datagrams_in_per_thread.push_back(w->final_stats.datagrams_in);
  }
  return final_;
}

void print_datagram_stats_line(const DatagramEchoStats& s) {
  fmt::print(stderr, "sockit: stats: {} in, {} out, {} bytes in, {} bytes out, {} truncated, {} dropped\n",
             plural(s.datagrams_in, "datagram"), plural(s.datagrams_out, "datagram"), s.bytes_in, s.bytes_out,
             s.truncated, s.dropped);
  std::fflush(stderr);
}

void print_datagram_details(const DatagramEchoStats& s, const std::string& backend, unsigned threads,
                            std::size_t max_datagram_size) {
  std::string spread;  // several threads: what each received, " (130 + 110 datagrams)"
  if (threads > 1 && !s.datagrams_in_per_thread.empty()) {
    spread = fmt::format(" ({} datagrams)", fmt::join(s.datagrams_in_per_thread, " + "));
  }
  fmt::print(stderr, "sockit:   backend {}, {}{}\n", backend, plural(threads, "thread"), spread);
  fmt::print(stderr, "sockit:   datagrams: {} in, {} out, {} truncated (over --max-frame {}), {} dropped\n",
             s.datagrams_in, s.datagrams_out, s.truncated, max_datagram_size, s.dropped);
  std::fflush(stderr);
}

}  // namespace sockit::cli
