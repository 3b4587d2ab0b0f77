// zmq_pushpull: ZeroMQ's side of `make bench-peers` (peers_common.hpp has the
// arrangement and the checks). PUSH connects, PULL binds, as the ZeroMQ guide's
// pipeline pattern has it; ipc:// for Unix, tcp://127.0.0.1 for TCP.
// Settings: libzmq's defaults, which are its recommended fast path: one I/O thread
// per context, SNDHWM = RCVHWM = 1000 messages, its own batching (the I/O thread
// writes as many queued messages per send(2) as fit in its 8 KiB out batch), and
// zmq_send/zmq_recv with a caller buffer (a 64-byte message is stored inline in
// zmq_msg_t, so there is no allocation per message either way).
#include <zmq.h>

#include <algorithm>
#include <future>
#include <thread>

#include "peers_common.hpp"

namespace {

constexpr const char* kSettings = "libzmq defaults: 1 I/O thread, SNDHWM=RCVHWM=1000, zmq_send/zmq_recv";

void check(int rc, const char* what) {
  if (rc < 0) peers::fail(std::string(what) + ": " + zmq_strerror(zmq_errno()));
}

}  // namespace

int main(int argc, char** argv) {
  const peers::Args args = peers::parse_args(argc, argv, "zmq_pushpull");
  const peers::TempDir dir;
  void* ctx = zmq_ctx_new();
  if (ctx == nullptr) peers::fail("zmq_ctx_new failed");

  void* pull = zmq_socket(ctx, ZMQ_PULL);
  if (pull == nullptr) peers::fail("zmq_socket(PULL) failed");
  const std::string bind_to = args.transport == "unix" ? "ipc://" + dir.path() + "/zmq.ipc" : "tcp://127.0.0.1:*";
  check(zmq_bind(pull, bind_to.c_str()), "zmq_bind");
  char endpoint[256] = {};
  size_t endpoint_len = sizeof endpoint;
  check(zmq_getsockopt(pull, ZMQ_LAST_ENDPOINT, endpoint, &endpoint_len), "ZMQ_LAST_ENDPOINT");
  const int stall_ms = 10'000;  // a stalled sender fails the run instead of hanging it
  check(zmq_setsockopt(pull, ZMQ_RCVTIMEO, &stall_ms, sizeof stall_ms), "ZMQ_RCVTIMEO");

  std::promise<void> received_all;
  std::uint64_t sent = 0;
  std::thread sender([&, done = received_all.get_future(), to = std::string(endpoint)] {
    void* push = zmq_socket(ctx, ZMQ_PUSH);
    if (push == nullptr) peers::fail("zmq_socket(PUSH) failed");
    check(zmq_connect(push, to.c_str()), "zmq_connect");
    sent = peers::send_for(args.seconds, [&](std::span<const std::byte> m) {
      check(zmq_send(push, m.data(), m.size(), 0), "zmq_send");
    });
    done.wait();  // close only once everything has arrived
    zmq_close(push);
  });

  peers::Checker checker;
  for (;;) {
    // One byte more than a message, so a longer one shows as a wrong size (zmq_recv
    // returns the full length and truncates).
    std::byte b[peers::kMessageSize + 1];
    const int n = zmq_recv(pull, b, sizeof b, 0);
    check(n, "zmq_recv");
    if (checker.accept(std::span<const std::byte>(b, std::min<std::size_t>(static_cast<std::size_t>(n), sizeof b))))
      break;
  }
  received_all.set_value();
  sender.join();
  zmq_close(pull);
  zmq_ctx_term(ctx);
  return peers::report("zeromq", args, kSettings, checker, sent);
}
