// sockit_pushpull: sockit's side of `make bench-peers` (peers_common.hpp has the
// arrangement and the checks): net::Connection with Framing::length_prefix() (a
// 4-byte length before each message) at both ends, each on its own EventLoop.
// Settings: LoopOptions and ConnectionOptions defaults (backend "auto": io_uring
// where the kernel has it, else epoll; high-water mark 4 MiB, low 1 MiB) and the
// flow control the Connection documents: send() while on_backpressure says the
// queue is below the high-water mark, run the loop while it is above. TCP_NODELAY
// on, as ZeroMQ and nng set it on their TCP connections.
// The sender also runs one non-blocking loop turn per 64 KiB queued, so that on
// io_uring (where send() only queues) the bytes go out while it keeps sending,
// as they do on epoll, where send() writes through.
#include <thread>

#include "peers_common.hpp"
#include "sockit/address.hpp"
#include "sockit/connect.hpp"
#include "sockit/event/event_loop.hpp"
#include "sockit/listener.hpp"
#include "sockit/net/connection.hpp"

namespace {

using namespace sockit;
using namespace std::chrono_literals;

constexpr std::size_t kTurnEvery = 64u << 10;

template <class T>
T must(Result<T> r, const char* what) {
  if (!r) peers::fail(std::string(what) + ": " + r.error().message());
  return std::move(*r);
}

std::unique_ptr<event::EventLoop> make_loop() { return must(event::EventLoop::create({}), "EventLoop::create"); }

net::ConnectionOptions connection_options() { return {.framing = net::Framing::length_prefix()}; }

void run_until(event::EventLoop& loop, const bool& done) {
  while (!done)
    if (auto s = loop.run_once(100ms); !s) peers::fail("run_once: " + s.error().message());
}

// The sender thread: connect, send for `seconds`, close gracefully (flush, FIN,
// wait for the receiver's FIN).
std::uint64_t send(const Address& to, bool tcp, double seconds) {
  const auto loop = make_loop();
  StreamSocket socket = must(connect(to, Deadline::after(10s)), "connect");
  if (tcp)
    if (auto s = socket.set_no_delay(true); !s) peers::fail("TCP_NODELAY: " + s.error().message());
  const auto conn = must(net::Connection::create(*loop, socket.release(), connection_options()), "Connection");
  bool above = false, closed = false;
  std::error_code reason;
  conn->on_backpressure([&](net::Connection&, bool a) { above = a; });
  conn->on_message([](net::Connection&, std::span<const std::byte>) { peers::fail("the receiver sent data"); });
  conn->on_close([&](net::Connection&, std::error_code ec) {
    closed = true;
    reason = ec;
  });
  conn->start();
  const std::uint64_t sent = peers::send_for(seconds, [&](std::span<const std::byte> m) {
    if (conn->queued_output() >= kTurnEvery) {
      do
        if (auto s = loop->run_once(above ? 100ms : 0ms); !s) peers::fail("run_once: " + s.error().message());
      while (above && !closed);
    }
    if (closed) peers::fail("the connection closed while sending: " + reason.message());
    if (auto s = conn->send(m); !s) peers::fail("send: " + s.error().message());
  });
  conn->close();
  run_until(*loop, closed);
  if (reason) peers::fail("the sending connection closed with: " + reason.message());
  return sent;
}

}  // namespace

int main(int argc, char** argv) {
  const peers::Args args = peers::parse_args(argc, argv, "sockit_pushpull");
  const peers::TempDir dir;
  const bool tcp = args.transport == "tcp";
  const auto address =
      must(Address::parse(tcp ? std::string("tcp://127.0.0.1:0") : "unix:" + dir.path() + "/sockit.sock"), "address");
  Listener listener = must(listen(address), "listen");
  const Address bound = must(listener.local_address(), "local_address");

  std::uint64_t sent = 0;
  std::thread sender([&] { sent = send(bound, tcp, args.seconds); });

  const auto loop = make_loop();
  const std::string backend = loop->backend().name;
  StreamSocket accepted = must(listener.accept(Deadline::after(10s)), "accept");
  const auto conn = must(net::Connection::create(*loop, accepted.release(), connection_options()), "Connection");
  peers::Checker checker;
  bool closed = false;
  std::error_code reason;
  conn->on_message([&](net::Connection& c, std::span<const std::byte> m) {
    if (checker.accept(m)) c.close();  // graceful: the sender's close completes with ours
  });
  conn->on_close([&](net::Connection&, std::error_code ec) {
    closed = true;
    reason = ec;
  });
  conn->start();
  run_until(*loop, closed);
  sender.join();
  if (reason) peers::fail("the receiving connection closed with: " + reason.message());
  const std::string settings =
      "Connection defaults, length_prefix, backpressure-driven, loop backend " + backend;
  return peers::report("sockit", args, settings.c_str(), checker, sent);
}
