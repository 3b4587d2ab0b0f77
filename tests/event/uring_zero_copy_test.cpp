// io_uring zero-copy sends (LoopOptions::send_zc_threshold): which sends go out
// zero-copy (lent, large enough, on a socket that supports it), that the caller
// hears of a zero-copy send only once the kernel has let go of the bytes, that
// the loop keeps lent bytes alive past a closed handle, the adaptive switch to
// plain sends where the kernel copies anyway, and the fallbacks (Unix sockets,
// threshold 0, the feature missing). Every test skips when the kernel refuses
// io_uring or lacks zero-copy sends.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "event/uring_features.hpp"
#include "sockit/event/event_loop.hpp"
#include "sockit/event/io_handle.hpp"
#include "sockit/net/connection.hpp"
#include "sockit/sockit.hpp"
#include "support/bytes.hpp"
#include "support/connected.hpp"
#include "support/loop_helpers.hpp"
#include "support/temp_dir.hpp"

namespace sockit {
namespace {

using namespace std::chrono_literals;
using Bytes = std::span<const std::byte>;

constexpr std::size_t kThreshold = 16 * 1024;

bool contains(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

bool explained(const std::vector<std::string>& fallbacks, const std::string& feature) {
  return std::any_of(fallbacks.begin(), fallbacks.end(),
                     [&](const std::string& f) { return f.starts_with(feature + ": "); });
}

// An io_uring loop that sends zero-copy, or nullptr after a skip.
std::unique_ptr<event::EventLoop> zero_copy_loop(bool adaptive = true, std::size_t threshold = kThreshold) {
  auto loop = test::make_loop_or_skip(
      {.backend = "io_uring", .send_zc_threshold = threshold, .send_zc_adaptive = adaptive});
  if (loop && !contains(loop->backend().features, event::kFeatureSendZc)) {
    // GTEST_SKIP returns void: record the skip, then hand back no loop.
    [&] { GTEST_SKIP() << "no zero-copy sends here: " << testing::PrintToString(loop->backend().fallbacks); }();
    return nullptr;
  }
  return loop;
}

// Reads a blocking socket to end of stream on a thread of its own.
class Sink {
 public:
  explicit Sink(StreamSocket socket)
      : socket_(std::move(socket)), thread_([this] {
          std::vector<std::byte> chunk(256 * 1024);
          for (;;) {
            auto n = socket_.recv_some(chunk, 20s);
            if (!n || *n == 0) break;
            got_.insert(got_.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(*n));
          }
        }) {}
  ~Sink() {
    if (thread_.joinable()) thread_.join();
  }
  // Joins the reader (the sender must have shut down or closed) and returns the bytes.
  const std::vector<std::byte>& received() {
    thread_.join();
    return got_;
  }

 private:
  StreamSocket socket_;
  std::vector<std::byte> got_;
  std::thread thread_;
};

// Sends all of `data` through `handle`, one send at a time, lending it (owner set)
// when `lend`. Records the loop's zero-copy count as each send's callback saw it.
struct Sender {
  event::EventLoop& loop;
  event::IoHandle& handle;
  std::shared_ptr<const std::vector<std::byte>> data;
  bool lend = true;
  std::size_t sent = 0;
  std::vector<std::uint64_t> zc_sends_seen_by_callback;
  std::optional<std::error_code> error;

  void next() {
    const std::array<Bytes, 1> rest{Bytes(*data).subspan(sent)};
    auto done = [this](Result<std::size_t> n) {
      if (!n) {
        error = n.error();
        return;
      }
      sent += *n;
      zc_sends_seen_by_callback.push_back(loop.stats().zc_sends);
      if (sent < data->size()) next();
    };
    if (lend) {
      handle.send(rest, std::move(done), data);
    } else {
      handle.send(rest, std::move(done));
    }
  }
  bool finished() const { return error || sent == data->size(); }
};

struct Transfer {
  std::vector<std::byte> received;
  std::vector<std::uint64_t> zc_sends_seen_by_callback;
  event::LoopStats stats;
};

// Sends `size` random bytes from a loop handle to a sink over `address`'s transport.
Transfer transfer(event::EventLoop& loop, const std::string& address, std::size_t size, bool lend,
                  std::shared_ptr<const std::vector<std::byte>>* keep = nullptr) {
  auto [client, server] = test::connected_pair(address);
  EXPECT_TRUE(client.set_non_blocking(true));
  Sink sink(std::move(server));
  auto data = std::make_shared<const std::vector<std::byte>>(test::random_bytes(size, size));
  if (keep != nullptr) *keep = data;
  auto handle = loop.watch(client.native_handle());
  EXPECT_TRUE(handle) << handle.error().message();
  Sender sender{.loop = loop, .handle = *handle, .data = data, .lend = lend, .sent = 0,
                .zc_sends_seen_by_callback = {}, .error = std::nullopt};
  sender.next();
  EXPECT_TRUE(test::run_until(loop, [&] { return sender.finished(); }, 20s))
      << sender.sent << " of " << size << " bytes sent";
  EXPECT_FALSE(sender.error) << sender.error->message();
  handle->reset();
  client.close();
  Transfer t{sink.received(), sender.zc_sends_seen_by_callback, loop.stats()};
  EXPECT_EQ(t.received.size(), size);
  EXPECT_TRUE(t.received == *data) << "bytes arrived corrupted or out of order";
  return t;
}

TEST(UringZeroCopy, TheProbeEitherUsesZeroCopySendsOrSaysWhyNot) {
  auto loop = test::make_loop_or_skip({.backend = "io_uring"});
  if (!loop) return;
  const event::BackendInfo& info = loop->backend();
  const bool used = contains(info.features, event::kFeatureSendZc);
  EXPECT_TRUE(used || explained(info.fallbacks, event::kFeatureSendZc)) << "send-zc neither used nor explained";
  EXPECT_EQ(info.zero_copy_threshold, used ? kThreshold : 0u);
}

TEST(UringZeroCopy, ALentLargeSendIsReportedOnlyAfterTheKernelReleasedTheBytes) {
  // Adaptive off: every send goes out zero-copy, even where the kernel copies.
  auto loop = zero_copy_loop(/*adaptive=*/false);
  if (!loop) return;
  const Transfer t = transfer(*loop, "tcp://127.0.0.1:0", 8u << 20, /*lend=*/true);
  ASSERT_FALSE(t.zc_sends_seen_by_callback.empty());
  // Each send is counted when its notification arrives; a callback run at the
  // send's first completion would see one fewer than the sends it completes.
  for (std::size_t i = 0; i < t.zc_sends_seen_by_callback.size(); ++i) {
    EXPECT_EQ(t.zc_sends_seen_by_callback[i], i + 1) << "send " << i << " was reported before its notification";
  }
  EXPECT_EQ(t.stats.zc_refused, 0u);
}

TEST(UringZeroCopy, WhereTheKernelCopiesAnywayTheHandleSwitchesToPlainSends) {
  auto loop = zero_copy_loop(/*adaptive=*/true);
  if (!loop) return;
  const Transfer t = transfer(*loop, "tcp://127.0.0.1:0", 8u << 20, /*lend=*/true);
  ASSERT_GE(t.stats.zc_sends, 1u);
  if (t.stats.zc_copied > 0) {
    // Loopback: the first send's notification said "copied"; no second try.
    EXPECT_EQ(t.stats.zc_sends, 1u);
    EXPECT_EQ(t.stats.zc_copied, 1u);
  } else {
    // A kernel that really sends loopback zero-copy keeps doing so.
    EXPECT_EQ(t.stats.zc_sends, t.zc_sends_seen_by_callback.size());
  }
}

TEST(UringZeroCopy, SendsThatAreNotLentOrAreSmallAreNeverZeroCopy) {
  auto loop = zero_copy_loop(/*adaptive=*/false);
  if (!loop) return;
  transfer(*loop, "tcp://127.0.0.1:0", 1u << 20, /*lend=*/false);
  transfer(*loop, "tcp://127.0.0.1:0", kThreshold - 1, /*lend=*/true);
  EXPECT_EQ(loop->stats().zc_sends, 0u);
  EXPECT_EQ(loop->stats().zc_refused, 0u);
}

TEST(UringZeroCopy, AUnixSocketRefusesZeroCopyAndItsSendsGoOutPlainlyIntact) {
  auto loop = zero_copy_loop(/*adaptive=*/false);
  if (!loop) return;
  test::TempDir dir;
  const Transfer t = transfer(*loop, "unix:" + dir.path() + "/zc.sock", 4u << 20, /*lend=*/true);
  // Refused once, then the handle knows: no zero-copy attempt on later sends.
  EXPECT_EQ(t.stats.zc_refused, 1u);
  EXPECT_EQ(t.stats.zc_sends, 0u);
}

TEST(UringZeroCopy, TheLoopHoldsLentBytesPastAClosedHandleUntilTheKernelLetsGo) {
  auto loop = zero_copy_loop(/*adaptive=*/false);
  if (!loop) return;
  auto [client, server] = test::connected_pair("tcp://127.0.0.1:0");
  ASSERT_TRUE(client.set_non_blocking(true));
  Sink sink(std::move(server));
  auto data = std::make_shared<const std::vector<std::byte>>(test::random_bytes(1u << 20, 7));
  std::weak_ptr<const std::vector<std::byte>> watched = data;
  bool callback_ran = false;
  {
    auto handle = loop->watch(client.native_handle());
    ASSERT_TRUE(handle) << handle.error().message();
    const std::array<Bytes, 1> all{Bytes(*data)};
    handle->send(all, [&](Result<std::size_t>) { callback_ran = true; }, data);
    data.reset();
    test::run_for(*loop, 0ms);  // submitted: the kernel may be reading the bytes now
    // The handle goes before any completion was reaped.
  }
  EXPECT_FALSE(watched.expired()) << "lent bytes were released while the kernel may still read them";
  // Once the request's last completion (the notification) arrives, the loop lets go.
  EXPECT_TRUE(test::run_until(*loop, [&] { return watched.expired(); }, 5s)) << "lent bytes never released";
  EXPECT_FALSE(callback_ran) << "a closed handle's callback ran";
  client.close();
  sink.received();
}

TEST(UringZeroCopy, ThresholdZeroTurnsZeroCopyOffAndSaysSo) {
  auto loop = test::make_loop_or_skip({.backend = "io_uring", .send_zc_threshold = 0});
  if (!loop) return;
  EXPECT_FALSE(contains(loop->backend().features, event::kFeatureSendZc));
  EXPECT_TRUE(explained(loop->backend().fallbacks, event::kFeatureSendZc));
  EXPECT_EQ(loop->backend().zero_copy_threshold, 0u);
  transfer(*loop, "tcp://127.0.0.1:0", 1u << 20, /*lend=*/true);
  EXPECT_EQ(loop->stats().zc_sends, 0u);
}

TEST(UringZeroCopy, WithoutTheFeatureLentSendsArePlainAndTheFallbackIsExplained) {
  event::uring_disable_features_for_testing({event::kFeatureSendZc});
  auto loop = test::make_loop_or_skip({.backend = "io_uring"});
  event::uring_disable_features_for_testing({});
  if (!loop) return;
  EXPECT_FALSE(contains(loop->backend().features, event::kFeatureSendZc));
  EXPECT_TRUE(explained(loop->backend().fallbacks, event::kFeatureSendZc));
  transfer(*loop, "tcp://127.0.0.1:0", 1u << 20, /*lend=*/true);
  EXPECT_EQ(loop->stats().zc_sends, 0u);
}

// A Connection lends its output when it is large enough: everything arrives, and
// an abort with zero-copy sends in flight leaves nothing dangling (ASan runs this).
TEST(UringZeroCopy, AConnectionSendsLargeMessagesZeroCopyAndAbortsSafelyMidSend) {
  auto loop = zero_copy_loop(/*adaptive=*/false);
  if (!loop) return;
  for (const bool abort_mid_send : {false, true}) {
    auto [client, server] = test::connected_pair("tcp://127.0.0.1:0");
    Sink sink(std::move(server));
    net::ConnectionOptions options;
    options.close_linger = 100ms;  // the sink never closes first: don't wait 5 s for its FIN
    auto connection = net::Connection::create(*loop, client.release(), options);
    ASSERT_TRUE(connection) << connection.error().message();
    bool closed = false;
    (*connection)->on_close([&](net::Connection&, std::error_code) { closed = true; });
    std::vector<std::byte> expected;
    for (int i = 0; i < 8; ++i) {
      const auto message = test::random_bytes(1u << 20, 100 + i);
      expected.insert(expected.end(), message.begin(), message.end());
      ASSERT_TRUE((*connection)->send(message));
    }
    const auto zc_before = loop->stats().zc_sends;
    if (abort_mid_send) {
      test::run_for(*loop, 1ms);
      (*connection)->abort();
    } else {
      (*connection)->close();
    }
    ASSERT_TRUE(test::run_until(*loop, [&] { return closed; }, 20s));
    connection->reset();
    const auto& got = sink.received();
    if (abort_mid_send) {
      EXPECT_LE(got.size(), expected.size());
      EXPECT_TRUE(std::equal(got.begin(), got.end(), expected.begin())) << "a prefix arrived corrupted";
    } else {
      EXPECT_EQ(got.size(), expected.size());
      EXPECT_TRUE(got == expected) << "bytes arrived corrupted or out of order";
      EXPECT_GT(loop->stats().zc_sends, zc_before) << "the connection never lent its output";
    }
  }
}

}  // namespace
}  // namespace sockit
