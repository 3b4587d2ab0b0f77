#include "support/datagram_echo_process.hpp"

#include <chrono>
#include <future>
#include <memory>
#include <thread>

#include "sockit/datagram_socket.hpp"
#include "sockit/event/event_loop.hpp"

namespace sockit::test {
namespace {

// The child's echo: the loop on its thread, the endpoint and the counters on it.
// Destroyed in the child's main thread after stop(): the endpoint before the loop.
struct Echo {
  std::unique_ptr<event::EventLoop> loop;
  std::shared_ptr<net::DatagramEndpoint> endpoint;
  std::uint64_t truncated_bytes = 0;  // loop thread
  std::uint64_t errors = 0;        // loop thread
  std::uint64_t unanswerable = 0;  // loop thread
  bool closed = false;             // loop thread
  std::thread thread;

  // Runs `task` on the loop thread and waits for it (5 s at most: a loop that
  // does not come round in that time is stuck, and the parent's stats() says so).
  template <typename T>
  std::optional<T> on_loop(std::function<T()> task) {
    auto promise = std::make_shared<std::promise<T>>();
    auto future = promise->get_future();
    loop->post([promise, task = std::move(task)] { promise->set_value(task()); });
    if (future.wait_for(std::chrono::seconds(5)) != std::future_status::ready) return std::nullopt;
    return future.get();
  }

  void stop() {
    if (!thread.joinable()) return;
    (void)on_loop<bool>([this] {
      endpoint->close();
      loop->stop();
      return true;
    });
    thread.join();
  }
  ~Echo() {
    stop();
    endpoint.reset();  // before the loop it is registered with
  }
};

std::expected<ChildService, std::string> start_echo(const Address& address, const std::string& backend,
                                                    std::size_t max_datagram) {
  auto echo = std::make_shared<Echo>();
  auto loop = event::EventLoop::create({.backend = backend});
  if (!loop) return std::unexpected("loop: " + loop.error().message());
  echo->loop = std::move(*loop);
  auto socket = DatagramSocket::bind(address);
  if (!socket) return std::unexpected("bind: " + socket.error().message());
  auto endpoint = net::DatagramEndpoint::create(*echo->loop, std::move(*socket), net::server_endpoint_options(max_datagram));
  if (!endpoint) return std::unexpected("endpoint: " + endpoint.error().message());
  echo->endpoint = std::move(*endpoint);
  auto local = echo->endpoint->local_address();
  if (!local) return std::unexpected("local address: " + local.error().message());

  // The callbacks run on the loop thread; `echo` outlives the endpoint.
  Echo& e = *echo;
  e.endpoint->on_datagram([&e](net::DatagramEndpoint& self, std::span<const std::byte> data, const Address& from) {
    if (from.is_unnamed()) {
      ++e.unanswerable;
      return;
    }
    // Refused only when the reply queue is full (the endpoint counts it as dropped).
    (void)self.send_to(data, from);
  });
  e.endpoint->on_truncated(
      [&e](net::DatagramEndpoint&, std::size_t real_size, const Address&) { e.truncated_bytes += real_size; });
  e.endpoint->on_error([&e](net::DatagramEndpoint&, std::error_code) { ++e.errors; });
  e.endpoint->on_close([&e](net::DatagramEndpoint&, std::error_code) { e.closed = true; });
  e.endpoint->start();
  e.thread = std::thread([&e] { e.loop->run(); });

  return ChildService{
      .address = *local,
      .stats =
          [echo] {
            auto s = echo->on_loop<DatagramEchoStats>([&e = *echo] {
              return DatagramEchoStats{.endpoint = e.endpoint->stats(),
                                       .truncated_bytes = e.truncated_bytes,
                                       .errors = e.errors,
                                       .unanswerable = e.unanswerable,
                                       .loop_waits = e.loop->stats().syscalls_wait,
                                       .open = !e.closed};
            });
            return s ? bytes_of_stats(*s) : std::vector<std::byte>{};  // empty: the parent sees no answer
          },
      .stop = [echo] { echo->stop(); },
  };
}

}  // namespace

DatagramEchoProcess::DatagramEchoProcess(const Address& address, std::string backend, std::size_t max_datagram_size)
    : ServiceProcessOf([&] { return start_echo(address, backend, max_datagram_size); }) {}

}  // namespace sockit::test
