// ShmRing: messages cross in order and intact (across the ring's wrap and across
// processes), full and empty rings wait and wake, a closed or dead peer is
// reported (not waited on), and nothing a peer writes into the shared memory can
// make this side crash or copy out of bounds.
#include "sockit/shm_ring.hpp"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "sockit/ancillary.hpp"
#include "sockit/socket_pair.hpp"
#include "support/child.hpp"

namespace sockit {
namespace {

using namespace std::chrono_literals;

struct RingPair {
  ShmRing creator;
  ShmRing joiner;
};

std::optional<RingPair> ring_pair(ShmRingOptions options = {}) {
  auto sockets = stream_socket_pair();
  EXPECT_TRUE(sockets);
  if (!sockets) return std::nullopt;
  auto creator = ShmRing::create(std::move(sockets->first), options, 5s);
  EXPECT_TRUE(creator) << creator.error().message();
  auto joiner = ShmRing::join(std::move(sockets->second), 5s, options.spin);
  EXPECT_TRUE(joiner) << joiner.error().message();
  if (!creator || !joiner) return std::nullopt;
  return RingPair{std::move(*creator), std::move(*joiner)};
}

// Message `n`: a size from 0 to 1,000 and bytes that depend on n and position.
std::vector<std::byte> message(std::size_t n) {
  std::vector<std::byte> bytes((n * 7919) % 1001);
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::byte>((n * 31 + i) & 0xFF);
  return bytes;
}

std::span<const std::byte> as_bytes(std::string_view text) { return std::as_bytes(std::span(text)); }

TEST(ShmRing, MessagesOfEverySizeCrossBothWaysInOrderAcrossTheRingsWrap) {
  auto rings = ring_pair({.capacity = 4096});
  ASSERT_TRUE(rings);
  std::vector<std::byte> buffer(4096);
  // 4 KiB rings and 10,000 messages of up to 1,000 bytes: the rings wrap ~1,200
  // times, with lengths and bodies split at every offset.
  for (std::size_t n = 0; n < 10'000; ++n) {
    const auto sent = message(n);
    ShmRing& from = n % 2 == 0 ? rings->creator : rings->joiner;
    ShmRing& to = n % 2 == 0 ? rings->joiner : rings->creator;
    ASSERT_TRUE(from.send(sent, 1s)) << n;
    auto size = to.receive(buffer, 1s);
    ASSERT_TRUE(size) << n << ": " << size.error().message();
    ASSERT_EQ(*size, sent.size()) << n;
    ASSERT_TRUE(std::equal(sent.begin(), sent.end(), buffer.begin())) << n;
  }
}

TEST(ShmRing, ASenderWaitsWhileTheRingIsFullAndGoesOnWhenTheReceiverReads) {
  auto rings = ring_pair({.capacity = 4096, .spin = 0us});
  ASSERT_TRUE(rings);
  constexpr std::size_t kMessages = 2000;  // ~500 KiB through a 4 KiB ring
  std::thread receiver([&] {
    std::vector<std::byte> buffer(4096);
    for (std::size_t n = 0; n < kMessages; ++n) {
      auto size = rings->joiner.receive(buffer, 10s);
      ASSERT_TRUE(size) << n;
      const auto expected = message(n);
      ASSERT_EQ(*size, expected.size());
      ASSERT_TRUE(std::equal(expected.begin(), expected.end(), buffer.begin())) << n;
    }
  });
  for (std::size_t n = 0; n < kMessages; ++n) ASSERT_TRUE(rings->creator.send(message(n), 10s)) << n;
  receiver.join();
}

TEST(ShmRing, AFullRingTimesOutASendAndAnEmptyOneAReceive) {
  auto rings = ring_pair({.capacity = 4096, .spin = 0us});
  ASSERT_TRUE(rings);
  std::vector<std::byte> big(rings->creator.max_message_size());
  ASSERT_TRUE(rings->creator.send(big, 1s));
  auto full = rings->creator.send(as_bytes("x"), 50ms);
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error(), make_error_code(errc::timed_out));

  std::vector<std::byte> buffer(4096);
  ASSERT_TRUE(rings->joiner.receive(buffer, 1s));
  auto empty = rings->joiner.receive(buffer, 50ms);
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error(), make_error_code(errc::timed_out));
}

TEST(ShmRing, ASleepingReceiverIsWokenBySend) {
  auto rings = ring_pair({.capacity = 4096, .spin = 0us});
  ASSERT_TRUE(rings);
  std::thread sender([&] {
    std::this_thread::sleep_for(20ms);  // likely after the receiver sleeps; correct either way
    ASSERT_TRUE(rings->creator.send(as_bytes("wake"), 1s));
  });
  std::vector<std::byte> buffer(16);
  auto size = rings->joiner.receive(buffer, 5s);
  sender.join();
  ASSERT_TRUE(size) << size.error().message();
  EXPECT_EQ(*size, 4u);
}

TEST(ShmRing, AMessageTooBigForTheBufferStaysInTheRingAndItsSizeIsKnown) {
  auto rings = ring_pair({.capacity = 4096});
  ASSERT_TRUE(rings);
  ASSERT_TRUE(rings->creator.send(as_bytes("twelve bytes"), 1s));
  auto none = rings->creator.next_message_size();
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);

  std::vector<std::byte> small(4);
  auto truncated = rings->joiner.receive(small, 1s);
  ASSERT_FALSE(truncated);
  EXPECT_EQ(truncated.error(), make_error_code(errc::message_truncated));
  auto size = rings->joiner.next_message_size();
  ASSERT_TRUE(size && *size);
  EXPECT_EQ(**size, 12u);
  std::vector<std::byte> enough(**size);
  auto received = rings->joiner.receive(enough, 1s);
  ASSERT_TRUE(received);
  EXPECT_EQ(*received, 12u);
}

TEST(ShmRing, AMessageLargerThanTheRingCanHoldIsRefused) {
  auto rings = ring_pair({.capacity = 4096});
  ASSERT_TRUE(rings);
  EXPECT_EQ(rings->creator.max_message_size(), 4092u);
  std::vector<std::byte> too_big(4093);
  auto sent = rings->creator.send(too_big, 1s);
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error(), make_error_code(errc::invalid_argument));
}

TEST(ShmRing, CapacitiesThatAreNotPowersOfTwoInRangeAreRefused) {
  for (std::size_t capacity : {std::size_t{0}, std::size_t{1000}, std::size_t{2048}, std::size_t{6000}}) {
    auto sockets = stream_socket_pair();
    ASSERT_TRUE(sockets);
    auto ring = ShmRing::create(std::move(sockets->first), {.capacity = capacity});
    ASSERT_FALSE(ring) << capacity;
    EXPECT_EQ(ring.error(), make_error_code(errc::invalid_argument));
  }
}

TEST(ShmRing, AfterThePeerClosesItsMessagesAreReadThenEndOfStreamAndSendsFail) {
  auto rings = ring_pair({.capacity = 4096, .spin = 0us});
  ASSERT_TRUE(rings);
  ASSERT_TRUE(rings->creator.send(as_bytes("last words"), 1s));
  rings->creator.close();
  std::vector<std::byte> buffer(64);
  auto last = rings->joiner.receive(buffer, 1s);
  ASSERT_TRUE(last);
  EXPECT_EQ(*last, 10u);
  auto end = rings->joiner.receive(buffer, 5s);
  ASSERT_FALSE(end);
  EXPECT_EQ(end.error(), make_error_code(errc::end_of_stream));
  auto reply = rings->joiner.send(as_bytes("anyone?"), 1s);
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error(), std::error_code(EPIPE, std::system_category()));
}

// The whole point: two processes. The child joins and echoes every message.
TEST(ShmRing, TwoProcessesExchangeTenThousandMessagesByteExact) {
  auto sockets = stream_socket_pair();
  ASSERT_TRUE(sockets);
  test::Child child([&]() -> int {
    sockets->first.close();
    auto ring = ShmRing::join(std::move(sockets->second), 5s);
    if (!ring) return 2;
    std::vector<std::byte> buffer(4096);
    for (;;) {
      auto size = ring->receive(buffer, 10s);
      if (!size) return size.error() == make_error_code(errc::end_of_stream) ? 0 : 3;
      if (!ring->send(std::span(buffer).first(*size), 10s)) return 4;
    }
  });
  sockets->second.close();
  auto ring = ShmRing::create(std::move(sockets->first), {.capacity = 8192}, 5s);
  ASSERT_TRUE(ring) << ring.error().message();
  std::vector<std::byte> buffer(4096);
  for (std::size_t n = 0; n < 10'000; ++n) {
    const auto sent = message(n);
    ASSERT_TRUE(ring->send(sent, 10s)) << n;
    auto size = ring->receive(buffer, 10s);
    ASSERT_TRUE(size) << n << ": " << size.error().message();
    ASSERT_EQ(*size, sent.size());
    ASSERT_TRUE(std::equal(sent.begin(), sent.end(), buffer.begin())) << n;
  }
  ring->close();
  EXPECT_EQ(child.wait(10s), 0);
}

TEST(ShmRing, APeerKilledWithoutClosingIsReportedDeadNotWaitedOn) {
  auto sockets = stream_socket_pair();
  ASSERT_TRUE(sockets);
  test::Child child([&]() -> int {
    sockets->first.close();
    auto ring = ShmRing::join(std::move(sockets->second), 5s);
    if (!ring || !ring->send(as_bytes("hello"), 5s)) return 2;
    ::pause();  // until killed
    return 0;
  });
  sockets->second.close();
  auto ring = ShmRing::create(std::move(sockets->first), {.capacity = 4096, .spin = 0us}, 5s);
  ASSERT_TRUE(ring);
  std::vector<std::byte> buffer(64);
  auto hello = ring->receive(buffer, 10s);
  ASSERT_TRUE(hello);
  child.kill(SIGKILL);
  const auto started = std::chrono::steady_clock::now();
  auto dead = ring->receive(buffer, 30s);
  ASSERT_FALSE(dead);
  EXPECT_EQ(dead.error(), make_error_code(errc::peer_dead));
  // Noticed by the control socket's hang-up, not by the deadline.
  EXPECT_LT(std::chrono::steady_clock::now() - started, 25s);
  EXPECT_EQ(child.wait(5s), -SIGKILL);
}

TEST(ShmRing, JoinRefusesMemoryThePeerCouldShrinkUnderIt) {
  auto sockets = stream_socket_pair();
  ASSERT_TRUE(sockets);
  // A hand-over that looks right but whose memfd is not sealed.
  Fd memory(::memfd_create("not-sealed", MFD_CLOEXEC));
  ASSERT_TRUE(memory);
  ASSERT_EQ(::ftruncate(memory.get(), 4096 + 2 * 4096), 0);
  std::vector<int> fds{memory.get(), memory.get(), memory.get(), memory.get(), memory.get()};
  const std::byte hand_over{'R'};
  ASSERT_TRUE(send_fds(sockets->first, std::span(&hand_over, 1), fds, 1s));
  auto ring = ShmRing::join(std::move(sockets->second), 1s);
  ASSERT_FALSE(ring);
  EXPECT_EQ(ring.error(), make_error_code(errc::ring_corrupt));
}

TEST(ShmRing, JoinRefusesAHandOverWithoutItsDescriptors) {
  auto sockets = stream_socket_pair();
  ASSERT_TRUE(sockets);
  ASSERT_TRUE(sockets->first.send_all(as_bytes("R"), 1s));
  auto ring = ShmRing::join(std::move(sockets->second), 1s);
  ASSERT_FALSE(ring);
  EXPECT_EQ(ring.error(), make_error_code(errc::ring_corrupt));
}

// The shared memory as a hostile peer sees it: this process's mapping of the ring's
// memfd, found through /proc/self/fd.
std::optional<Fd> open_ring_memory() {
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    const auto target = std::filesystem::read_symlink(entry.path(), ec).string();
    if (!ec && target.find("memfd:sockit-shm-ring") != std::string::npos) {
      return Fd(::open(entry.path().c_str(), O_RDWR | O_CLOEXEC));
    }
  }
  return std::nullopt;
}

TEST(ShmRing, IndicesAPeerScribbledOverAreReportedCorruptNeverFollowed) {
  auto rings = ring_pair({.capacity = 4096, .spin = 0us});
  ASSERT_TRUE(rings);
  auto memory = open_ring_memory();
  ASSERT_TRUE(memory && memory->valid());
  void* shared = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, memory->get(), 0);
  ASSERT_NE(shared, MAP_FAILED);
  // Everything after the constants (magic, version, capacity: 16 bytes) becomes 0xFF:
  // heads and tails far beyond the ring, flags set.
  std::memset(static_cast<std::byte*>(shared) + 64, 0xFF, 4096 - 64);
  std::vector<std::byte> buffer(4096);
  auto received = rings->joiner.receive(buffer, 1s);
  ASSERT_FALSE(received);
  EXPECT_EQ(received.error(), make_error_code(errc::ring_corrupt));
  // The sender writes only where its own head says (a message of 5 bytes here) and
  // re-reads the peer's tail only when its last view says the ring is full: the
  // scribbled tail is met, and reported, at the latest when the ring fills up.
  Status sent;
  int sends = 0;
  while (sent && sends <= 4096 / 5) {
    sent = rings->joiner.send(as_bytes("x"), 1s);
    ++sends;
  }
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error(), make_error_code(errc::ring_corrupt));
  ::munmap(shared, 4096);
}

}  // namespace
}  // namespace sockit
