// KNOWN BUG, disabled until fixed (run it with --gtest_also_run_disabled_tests):
// on the io_uring backend, a peer that sends part of a frame and then resets
// (SO_LINGER 0) is, about once in a few hundred connections, never seen to close:
// the server's ServerStats::active stays one too high for good, the descriptor stays
// open, and /proc/PID/fdinfo of the ring shows that connection's IORING_OP_RECV
// (op 27) still armed in the kernel's poll list. epoll, poll and select close every
// one. Found by the hostile battery (tests/hostile/output_attacks_test.cpp).
//
// Suspected cause, not yet confirmed: the data and the RST arrive together; the
// multishot receive's wakeup reads the data and posts it, then decides not to retry
// at once because nothing is left in the receive queue (the kernel's "inq" hint
// counts a FIN, not a pending error), and waits for a wakeup the reset already
// gave. If so, the engine must look once more after a receive that drained the
// socket (or use a single-shot receive for that case).
#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <vector>

#include "sockit/net/server.hpp"
#include "sockit/sockit.hpp"
#include "support/loop_helpers.hpp"

namespace sockit::net {
namespace {

using namespace std::chrono_literals;

TEST(UringResetAfterData, DISABLED_EveryPeerThatResetsAfterHalfAFrameIsClosed) {
  if (!test::make_loop_or_skip({.backend = "io_uring"})) return;
  constexpr int kRounds = 30, kPeers = 50;
  std::vector<std::byte> frame(4100, std::byte{1});
  frame[2] = std::byte{0x10};  // a declared length of 4,096; half of it is sent
  frame[0] = frame[1] = frame[3] = std::byte{0};
  for (int round = 0; round < kRounds; ++round) {
    ServerOptions options;
    options.backend = "io_uring";
    options.connection.framing = Framing::length_prefix();
    auto server = Server::create(*Address::parse("tcp://127.0.0.1:0"), options, [](Connection& c) {
      c.on_message([](Connection& self, std::span<const std::byte> m) { (void)self.send(m); });
    });
    ASSERT_TRUE(server);
    ASSERT_TRUE((*server)->start());
    for (int i = 0; i < kPeers; ++i) {
      auto peer = connect((*server)->local_address(), 5s);
      ASSERT_TRUE(peer);
      ASSERT_TRUE(peer->send_all(std::span(frame).first(2048), 5s));
      ASSERT_TRUE(peer->set_linger(std::chrono::seconds(0)));
      peer->close();
    }
    ServerStats stats;
    const auto until = std::chrono::steady_clock::now() + 5s;
    do {
      stats = (*server)->stats();
      if (stats.active == 0) break;
      std::this_thread::sleep_for(5ms);
    } while (std::chrono::steady_clock::now() < until);
    ASSERT_EQ(stats.active, 0u) << "round " << round << ": " << stats.closed_by_error << " of " << kPeers
                                << " resets seen";
    (*server)->shutdown(100ms);
  }
}

}  // namespace
}  // namespace sockit::net
