// The reference's pitfall #1, EINTR: a 100 µs interval timer firing (without
// SA_RESTART) all through send_all, recv_exact, accept and connect changes no result.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/time.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "sockit/sockit.hpp"
#include "support/bytes.hpp"
#include "support/temp_dir.hpp"

namespace sockit {
namespace {

using namespace std::chrono_literals;

std::atomic<int> g_interrupts{0};
void count_interrupt(int) { g_interrupts.fetch_add(1, std::memory_order_relaxed); }

// SIGALRM every 100 µs for the life of the object, delivered to the test's own
// thread only (helper threads are started with it blocked).
class InterruptStorm {
 public:
  InterruptStorm() {
    struct sigaction sa {};
    sa.sa_handler = count_interrupt;
    sa.sa_flags = 0;  // no SA_RESTART: blocking calls really return EINTR
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGALRM, &sa, &old_);
    g_interrupts = 0;
    itimerval every{{0, 100}, {0, 100}};
    ::setitimer(ITIMER_REAL, &every, nullptr);
  }
  ~InterruptStorm() {
    itimerval off{};
    ::setitimer(ITIMER_REAL, &off, nullptr);
    ::sigaction(SIGALRM, &old_, nullptr);
  }
  InterruptStorm(const InterruptStorm&) = delete;
  InterruptStorm& operator=(const InterruptStorm&) = delete;

 private:
  struct sigaction old_ {};
};

// A thread that never takes SIGALRM, so the interrupts land on the thread under test.
template <typename Fn>
std::thread quiet_thread(Fn fn) {
  sigset_t alarm, old;
  sigemptyset(&alarm);
  sigaddset(&alarm, SIGALRM);
  ::pthread_sigmask(SIG_BLOCK, &alarm, &old);
  std::thread t(std::move(fn));
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return t;
}

Address parse(const std::string& text) { return *Address::parse(text); }

constexpr std::size_t kBytes = 16u << 20;

TEST(Eintr, SendAllDeliversEverythingThroughASignalStorm) {
  auto pair = stream_socket_pair();
  ASSERT_TRUE(pair);
  ASSERT_TRUE(pair->first.set_send_buffer_size(1));
  const auto data = test::random_bytes(kBytes, 3);
  std::vector<std::byte> got(kBytes);
  auto reader = quiet_thread([&] { EXPECT_TRUE(pair->second.recv_exact(got)); });
  {
    InterruptStorm storm;
    auto r = pair->first.send_all(data);
    EXPECT_TRUE(r) << r.error().message();
  }
  reader.join();
  EXPECT_GT(g_interrupts.load(), 0) << "the storm must actually have interrupted something";
  EXPECT_EQ(test::checksum(got), test::checksum(data));
}

TEST(Eintr, RecvExactFillsTheBufferThroughASignalStorm) {
  auto pair = stream_socket_pair();
  ASSERT_TRUE(pair);
  const auto data = test::random_bytes(kBytes, 4);
  auto writer = quiet_thread([&] {
    // Trickle, so the receiver blocks again and again.
    for (std::size_t off = 0; off < kBytes; off += 1 << 20) {
      EXPECT_TRUE(pair->first.send_all(std::span(data).subspan(off, 1 << 20)));
      std::this_thread::sleep_for(2ms);
    }
  });
  std::vector<std::byte> got(kBytes);
  {
    InterruptStorm storm;
    auto r = pair->second.recv_exact(got);
    EXPECT_TRUE(r) << r.error().message();
  }
  writer.join();
  EXPECT_GT(g_interrupts.load(), 0);
  EXPECT_EQ(test::checksum(got), test::checksum(data));
}

TEST(Eintr, AcceptWaitsThroughASignalStorm) {
  const Address address = parse("unix:@" + test::unique_abstract_name());
  auto listener = listen(address);
  ASSERT_TRUE(listener);
  auto client = quiet_thread([&] {
    std::this_thread::sleep_for(100ms);
    EXPECT_TRUE(connect(address, 5s));
  });
  Result<StreamSocket> accepted;
  {
    InterruptStorm storm;
    accepted = listener->accept();
  }
  client.join();
  EXPECT_GT(g_interrupts.load(), 0);
  EXPECT_TRUE(accepted) << accepted.error().message();
}

class EintrConnect : public ::testing::TestWithParam<std::string> {};

TEST_P(EintrConnect, ConnectWaitsForRoomThroughASignalStorm) {
  ListenOptions options;
  options.backlog = 1;
  auto listener = listen(parse(GetParam()), options);
  ASSERT_TRUE(listener);
  const Address target = *listener->local_address();
  std::vector<StreamSocket> held;
  for (int i = 0; i < 64; ++i) {
    auto c = connect(target, 200ms);
    if (!c) break;
    held.push_back(std::move(*c));
  }
  ASSERT_LT(held.size(), 64u) << "the backlog never filled";
  // Make room a little later, while the next connect is waiting.
  auto drainer = quiet_thread([&] {
    std::this_thread::sleep_for(100ms);
    for (std::size_t i = 0; i <= held.size(); ++i) {
      if (!listener->accept(3s)) break;
    }
  });
  Result<StreamSocket> connected;
  {
    InterruptStorm storm;
    connected = connect(target, Deadline::after(10s));
  }
  drainer.join();
  EXPECT_GT(g_interrupts.load(), 0);
  EXPECT_TRUE(connected) << connected.error().message();
}

INSTANTIATE_TEST_SUITE_P(Transports, EintrConnect,
                         ::testing::Values("unix:@" + test::unique_abstract_name(), "tcp://127.0.0.1:0"),
                         [](const auto& param_info) { return param_info.index == 0 ? std::string("unix") : std::string("tcp"); });

}  // namespace
}  // namespace sockit
