// io_uring engine specifics, through the public EventLoop API: the features the
// kernel offers, receives that outlive the provided-buffer ring, the generation
// check that keeps a closed handle's late completions from its slot's next owner,
// pausing with bytes already read by a multishot request, teardown with requests
// in flight, and each per-feature fallback (forced through the testing hook in
// event/uring_features.hpp). Every test skips when the kernel refuses io_uring.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/utsname.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "event/uring_features.hpp"
#include "sockit/event/event_loop.hpp"
#include "sockit/event/io_handle.hpp"
#include "sockit/sockit.hpp"
#include "support/bytes.hpp"
#include "support/connected.hpp"
#include "support/loop_helpers.hpp"

namespace sockit {
namespace {

using namespace std::chrono_literals;
using Bytes = std::span<const std::byte>;

std::unique_ptr<event::EventLoop> uring_loop(unsigned count = 256, std::size_t size = 64 * 1024) {
  return test::make_loop_or_skip(
      {.backend = "io_uring", .receive_buffer_size = size, .receive_buffer_count = count});
}

std::pair<StreamSocket, StreamSocket> socket_pair() {
  auto pair = stream_socket_pair();
  if (!pair) throw std::runtime_error("socketpair: " + pair.error().message());
  return std::move(*pair);
}

event::IoHandle watch(event::EventLoop& loop, int fd) {
  auto handle = loop.watch(fd);
  EXPECT_TRUE(handle) << handle.error().message();
  return handle ? std::move(*handle) : event::IoHandle();
}

bool contains(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

bool explained(const std::vector<std::string>& fallbacks, const std::string& feature) {
  return std::any_of(fallbacks.begin(), fallbacks.end(),
                     [&](const std::string& f) { return f.starts_with(feature + ": "); });
}

// Kernel release as major * 100 + minor ("6.18.44-..." -> 618).
int kernel_version() {
  utsname u{};
  if (::uname(&u) != 0) return 0;
  int major = 0, minor = 0;
  if (std::sscanf(u.release, "%d.%d", &major, &minor) != 2) return 0;
  return major * 100 + minor;
}

// Sends `data` from a thread, then shuts down writing; receives on `loop` until end
// of stream, copying every chunk. Returns what arrived.
std::vector<std::byte> transfer(event::EventLoop& loop, const std::vector<std::byte>& data,
                                std::size_t max_chunk = SIZE_MAX) {
  auto [client, server] = test::connected_pair("tcp://127.0.0.1:0");
  EXPECT_TRUE(server.set_non_blocking(true));
  std::vector<std::byte> got;
  bool eof = false;
  std::optional<std::error_code> error;
  auto h = watch(loop, server.native_handle());
  std::thread sender([&client, &data] {
    EXPECT_TRUE(client.send_all(data, 20s));
    EXPECT_TRUE(client.shutdown(ShutdownHow::write));
  });
  h.receive([&](Result<Bytes> chunk) {
    if (!chunk)
      error = chunk.error();
    else if (chunk->empty())
      eof = true;
    else {
      EXPECT_LE(chunk->size(), max_chunk);
      got.insert(got.end(), chunk->begin(), chunk->end());
    }
  });
  EXPECT_TRUE(test::run_until(
      loop, [&] { return eof || error; }, 20s))
      << got.size() << " of " << data.size();
  h.reset();
  server.close();  // unblocks the sender if the receive stopped early
  sender.join();
  EXPECT_FALSE(error) << error->message();
  return got;
}

TEST(UringEngine, ReportsIoUringAndExplainsEveryMissingFeature) {
  auto loop = uring_loop();
  if (!loop) return;
  const event::BackendInfo& info = loop->backend();
  EXPECT_EQ(info.name, "io_uring");
  for (const char* feature :
       {event::kFeatureProvidedBuffers, event::kFeatureMultishotAccept, event::kFeatureMultishotRecv,
        event::kFeatureIncrementalBuffers}) {
    EXPECT_TRUE(contains(info.features, feature) || explained(info.fallbacks, feature))
        << feature << " is neither used nor explained";
  }
  // Multishot receive arrived last, in 6.0: every one of them is there since.
  if (kernel_version() >= 600) {
    EXPECT_TRUE(contains(info.features, event::kFeatureProvidedBuffers));
    EXPECT_TRUE(contains(info.features, event::kFeatureMultishotAccept));
    EXPECT_TRUE(contains(info.features, event::kFeatureMultishotRecv));
  }
  if (kernel_version() >= 612) {
    EXPECT_TRUE(contains(info.features, event::kFeatureIncrementalBuffers));
  }
  for (const auto& f : info.features) RecordProperty("feature_" + f, "yes");
}

TEST(UringEngine, AReceiveOutlivesItsBufferRingAndGetsEveryByte) {
  // 4 buffers of 4 KiB against 1 MiB: the ring is refilled 64 times over and runs
  // dry (ENOBUFS) whenever the sender gets ahead.
  auto loop = uring_loop(4, 4096);
  if (!loop) return;
  const auto data = test::random_bytes(1u << 20, 11);
  const auto got = transfer(*loop, data, 4096);
  ASSERT_EQ(got.size(), data.size());
  EXPECT_TRUE(got == data) << "bytes arrived out of order or corrupted";
}

// Two sockets with bytes queued, both receives armed in one submission, and a ring
// of one buffer: returns what each received and the loop's counters.
struct TwoReceivers {
  std::string first, second;
  event::LoopStats stats;
};
TwoReceivers receive_on_two_sockets(event::EventLoop& loop, std::string_view to_first, std::string_view to_second) {
  TwoReceivers out;
  auto [a, a_peer] = socket_pair();
  auto [b, b_peer] = socket_pair();
  EXPECT_TRUE(a.set_non_blocking(true));
  EXPECT_TRUE(b.set_non_blocking(true));
  EXPECT_TRUE(a_peer.send_all(to_first, 1s));
  EXPECT_TRUE(b_peer.send_all(to_second, 1s));
  event::IoHandle ha = watch(loop, a.native_handle());
  event::IoHandle hb = watch(loop, b.native_handle());
  ha.receive([&](Result<Bytes> chunk) { out.first += chunk ? test::string_of(*chunk) : "<error>"; });
  hb.receive([&](Result<Bytes> chunk) { out.second += chunk ? test::string_of(*chunk) : "<error>"; });
  EXPECT_TRUE(test::run_until(loop, [&] {
    return out.first.size() >= to_first.size() && out.second.size() >= to_second.size();
  })) << out.first.size() << " and " << out.second.size();
  out.stats = loop.stats();
  return out;
}

TEST(UringEngine, SmallReceivesOfManyConnectionsShareOneBufferWhereTheKernelConsumesIncrementally) {
  auto loop = uring_loop(1, 4096);
  if (!loop) return;
  if (!contains(loop->backend().features, event::kFeatureIncrementalBuffers)) {
    EXPECT_LT(kernel_version(), 612) << "the kernel has incremental buffers but the engine did not use them";
    GTEST_SKIP() << "kernel before 6.12: no incremental buffer consumption";
  }
  // One 4 KiB buffer, two 100-byte receives: each takes only its bytes, and each
  // callback sees its own (the offsets into the shared buffer are right).
  const std::string one(100, 'a'), two(100, 'b');
  const TwoReceivers got = receive_on_two_sockets(*loop, one, two);
  EXPECT_EQ(got.first, one);
  EXPECT_EQ(got.second, two);
  EXPECT_EQ(got.stats.buffer_ring_empty, 0u);
}

TEST(UringEngine, AnEmptyBufferRingIsCountedAndTheReceiveResumesOnceABufferReturns) {
  // One buffer of 64 bytes, each socket holding 64: the first receive fills it,
  // the second finds the ring empty (ENOBUFS), is counted and re-armed, and gets
  // its bytes once the first callback gave the buffer back.
  auto loop = uring_loop(1, 64);
  if (!loop) return;
  const std::string one(64, 'a'), two(64, 'b');
  const TwoReceivers got = receive_on_two_sockets(*loop, one, two);
  EXPECT_EQ(got.first, one);
  EXPECT_EQ(got.second, two);
  EXPECT_GE(got.stats.buffer_ring_empty, 1u);
  EXPECT_GE(got.stats.receives_armed, 2u + got.stats.buffer_ring_empty) << "every empty ring costs a re-arm";
}

TEST(UringEngine, ACompletionQueueTooSmallForATurnIsCountedAndNothingIsLost) {
  // A CQ of 4 entries (the kernel's minimum for one SQ entry) and 16 sockets with
  // a message each, armed in one turn: more completions than the CQ holds, so the
  // kernel parks the rest in its overflow list (and ends those multishot receives).
  // Every message still arrives, and the turns that saw the overflow are counted.
  auto loop = test::make_loop_or_skip({.backend = "io_uring", .io_uring_entries = 1, .io_uring_cq_entries = 4});
  if (!loop) return;
  constexpr int kSockets = 16;
  std::vector<std::pair<StreamSocket, StreamSocket>> pairs;
  std::vector<event::IoHandle> handles;
  std::vector<std::string> got(kSockets);
  for (int i = 0; i < kSockets; ++i) {
    pairs.push_back(socket_pair());
    ASSERT_TRUE(pairs.back().first.set_non_blocking(true));
    ASSERT_TRUE(pairs.back().second.send_all(std::string_view("message"), 1s));
  }
  for (int i = 0; i < kSockets; ++i) {
    handles.push_back(watch(*loop, pairs[static_cast<std::size_t>(i)].first.native_handle()));
    handles.back().receive([&got, i](Result<Bytes> chunk) {
      got[static_cast<std::size_t>(i)] += chunk ? test::string_of(*chunk) : "<error>";
    });
  }
  EXPECT_TRUE(test::run_until(*loop, [&] {
    return std::all_of(got.begin(), got.end(), [](const std::string& g) { return g.size() >= 7; });
  }));
  for (const std::string& g : got) EXPECT_EQ(g, "message");
  EXPECT_GE(loop->stats().cq_overflow, 1u);
}

TEST(UringEngine, AClosedHandlesLateCompletionsNeverReachTheSlotsNextOwner) {
  auto loop = uring_loop(8, 4096);
  if (!loop) return;
  for (int round = 0; round < 50; ++round) {
    auto [a, a_peer] = socket_pair();
    auto [b, b_peer] = socket_pair();
    ASSERT_TRUE(a.set_non_blocking(true));
    ASSERT_TRUE(b.set_non_blocking(true));
    std::string a_got, b_got;
    std::optional<event::IoHandle> ha = watch(*loop, a.native_handle());
    ha->receive([&](Result<Bytes> chunk) {
      if (chunk) a_got += test::string_of(*chunk);
    });
    test::run_for(*loop, 1ms);  // the multishot receive is now in the kernel
    // Bytes for A arrive while its request is armed; A is closed before the loop
    // reaps them, and B (most likely in A's slot, one generation on) starts at once.
    ASSERT_TRUE(a_peer.send_all(std::string_view("old-owner-data"), 5s));
    ha.reset();
    auto hb = watch(*loop, b.native_handle());
    hb.receive([&](Result<Bytes> chunk) {
      if (chunk) b_got += test::string_of(*chunk);
    });
    ASSERT_TRUE(b_peer.send_all(std::string_view("new"), 5s));
    ASSERT_TRUE(test::run_until(*loop, [&] { return b_got.size() >= 3; })) << "round " << round;
    test::run_for(*loop, 2ms);
    ASSERT_EQ(b_got, "new") << "round " << round;
    ASSERT_EQ(a_got, "") << "a destroyed handle's callback ran";
  }
}

TEST(UringEngine, ClosingAfterTheHandleReallyClosesWithoutAnotherLoopTurn) {
  // A request in the kernel holds the file: unless the cancellation is submitted
  // when the handle goes, close() leaves the socket open until the next turn.
  auto loop = uring_loop();
  if (!loop) return;
  auto [a, peer] = socket_pair();
  ASSERT_TRUE(a.set_non_blocking(true));
  auto listener = listen(*Address::parse("tcp://127.0.0.1:0"));
  ASSERT_TRUE(listener) << listener.error().message();
  ASSERT_TRUE(listener->set_non_blocking(true));
  const Address bound = *listener->local_address();
  {
    auto receiving = watch(*loop, a.native_handle());
    receiving.receive([](Result<Bytes>) {});
    auto accepting = watch(*loop, listener->native_handle());
    accepting.accept([](Result<Fd>) {});
    test::run_for(*loop, 5ms);  // both requests are in the kernel
  }
  a.close();
  listener->close();
  std::array<std::byte, 1> b{};
  auto r = peer.recv_some(b, 2s);
  ASSERT_TRUE(r) << "the peer did not see the close: " << r.error().message();
  EXPECT_EQ(*r, 0u);
  auto c = connect(bound, 2s);
  ASSERT_FALSE(c) << "the listener still accepts after close";
  EXPECT_EQ(c.error(), std::errc::connection_refused) << c.error().message();
}

TEST(UringEngine, PausingWithBytesAlreadyReadDeliversThemInOrderOnlyAfterResume) {
  // A multishot request hands over several chunks per turn; the callback pauses on
  // each one, so the rest of the turn's chunks were read before the pause reached
  // the kernel. They must wait for resume, and arrive whole and in order.
  auto loop = uring_loop(16, 4096);
  if (!loop) return;
  auto [client, server] = test::connected_pair("tcp://127.0.0.1:0");
  ASSERT_TRUE(server.set_non_blocking(true));
  const auto data = test::random_bytes(256 * 1024, 5);
  std::vector<std::byte> got;
  bool paused = false, eof = false;
  int delivered_while_paused = 0;
  std::optional<event::IoHandle> h = watch(*loop, server.native_handle());
  std::thread sender([&] {
    EXPECT_TRUE(client.send_all(data, 20s));
    EXPECT_TRUE(client.shutdown(ShutdownHow::write));
  });
  event::TimerHandle resume;
  h->receive([&](Result<Bytes> chunk) {
    ASSERT_TRUE(chunk) << chunk.error().message();
    if (paused) ++delivered_while_paused;
    if (chunk->empty()) {
      eof = true;
      return;
    }
    got.insert(got.end(), chunk->begin(), chunk->end());
    paused = true;
    h->pause_receive();
    resume = loop->run_after(1ms, [&] {
      paused = false;
      h->resume_receive();
    });
  });
  EXPECT_TRUE(test::run_until(
      *loop, [&] { return eof; }, 20s))
      << got.size() << " of " << data.size();
  h.reset();
  server.close();
  sender.join();
  EXPECT_EQ(delivered_while_paused, 0);
  ASSERT_EQ(got.size(), data.size());
  EXPECT_TRUE(got == data) << "bytes arrived out of order or corrupted";
}

TEST(UringEngine, DestroyingTheLoopWithRequestsInFlightClosesEveryAcceptedConnection) {
  // Clients connect after the listener's handle is gone but before the loop
  // reaps the cancellation: connections the kernel accepted for it must be closed
  // by the engine, not leaked (the fd-leak check counts /proc/self/fd).
  auto listener = listen(*Address::parse("tcp://127.0.0.1:0"));
  ASSERT_TRUE(listener) << listener.error().message();
  ASSERT_TRUE(listener->set_non_blocking(true));
  const Address bound = *listener->local_address();
  std::vector<StreamSocket> clients;
  {
    auto loop = uring_loop();
    if (!loop) return;
    auto [a, b] = socket_pair();
    ASSERT_TRUE(a.set_non_blocking(true));
    std::optional<event::IoHandle> accepting = watch(*loop, listener->native_handle());
    std::vector<Fd> accepted;
    accepting->accept([&](Result<Fd> fd) {
      if (fd) accepted.push_back(std::move(*fd));
    });
    auto receiving = watch(*loop, a.native_handle());
    receiving.receive([](Result<Bytes>) {});
    test::run_for(*loop, 5ms);  // both requests are armed in the kernel
    for (int i = 0; i < 5; ++i) {
      auto c = connect(bound, 5s);
      ASSERT_TRUE(c) << c.error().message();
      clients.push_back(std::move(*c));
    }
    accepting.reset();
    receiving.reset();
    // The loop goes away without another turn: its destructor reaps the rest.
  }
  SUCCEED();
}

// --- fallbacks ---------------------------------------------------------------------------

class UringFallback : public ::testing::TestWithParam<std::vector<std::string>> {
 protected:
  void SetUp() override { event::uring_disable_features_for_testing(GetParam()); }
  void TearDown() override { event::uring_disable_features_for_testing({}); }
};

TEST_P(UringFallback, ExplainsTheFallbackAndStillAcceptsAndReceives) {
  auto loop = uring_loop(4, 4096);
  if (!loop) return;
  for (const std::string& feature : GetParam()) {
    EXPECT_FALSE(contains(loop->backend().features, feature));
    EXPECT_TRUE(explained(loop->backend().fallbacks, feature)) << feature;
  }

  // Accept keeps going, re-armed or multishot.
  auto listener = listen(*Address::parse("tcp://127.0.0.1:0"));
  ASSERT_TRUE(listener) << listener.error().message();
  ASSERT_TRUE(listener->set_non_blocking(true));
  std::vector<StreamSocket> clients;
  std::vector<Fd> accepted;
  {
    auto h = watch(*loop, listener->native_handle());
    h.accept([&](Result<Fd> fd) {
      ASSERT_TRUE(fd) << fd.error().message();
      accepted.push_back(std::move(*fd));
    });
    for (int i = 0; i < 10; ++i) {
      auto c = connect(*listener->local_address(), 5s);
      ASSERT_TRUE(c) << c.error().message();
      clients.push_back(std::move(*c));
    }
    EXPECT_TRUE(test::run_until(*loop, [&] { return accepted.size() == 10; })) << accepted.size();
  }

  // A transfer many times the buffer pool, chunks no larger than a buffer.
  const auto data = test::random_bytes(512 * 1024, 7);
  const auto got = transfer(*loop, data, 4096);
  ASSERT_EQ(got.size(), data.size());
  EXPECT_TRUE(got == data);

  // Posted tasks still wake the loop (the eventfd read path).
  bool ran = false;
  loop->post([&] { ran = true; });
  EXPECT_TRUE(test::run_until(*loop, [&] { return ran; }));
}

INSTANTIATE_TEST_SUITE_P(Features, UringFallback,
                         ::testing::Values(std::vector<std::string>{event::kFeatureMultishotRecv},
                                           std::vector<std::string>{event::kFeatureIncrementalBuffers},
                                           std::vector<std::string>{event::kFeatureMultishotAccept},
                                           std::vector<std::string>{event::kFeatureProvidedBuffers},
                                           std::vector<std::string>{event::kFeatureProvidedBuffers,
                                                                    event::kFeatureMultishotAccept}),
                         [](const ::testing::TestParamInfo<std::vector<std::string>>& p) {
                           std::string name = "Without";
                           for (const auto& f : p.param) {
                             for (char c : f) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                             name += '_';
                           }
                           name.pop_back();
                           return name;
                         });

}  // namespace
}  // namespace sockit
