// The reference's "partial send / recv": with the smallest kernel buffers, 64 MiB
// through send_all/recv_exact in random chunk sizes arrives intact.
#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <thread>

#include "sockit/sockit.hpp"
#include "support/bytes.hpp"
#include "support/connected.hpp"
#include "support/temp_dir.hpp"

namespace sockit {
namespace {

using namespace std::chrono_literals;

class PartialIo : public ::testing::TestWithParam<std::string> {};

TEST_P(PartialIo, SixtyFourMiBInRandomChunksThroughMinimumBuffersArriveIntact) {
  test::TempDir dir;
  auto listener = listen(*Address::parse(test::listen_address_for(GetParam(), dir.file("p.sock"))));
  ASSERT_TRUE(listener);
  // Asking for 1 byte gets the kernel's minimum (SOCK_MIN_SNDBUF / SOCK_MIN_RCVBUF).
  // The receive buffer is set on the listener, before the handshake, so the
  // accepted socket advertises a window that fits it: shrinking it on an
  // established TCP connection makes the kernel drop what is already in flight.
  ASSERT_TRUE(listener->set_receive_buffer_size(1));
  auto client_result = connect(*listener->local_address(), 5s);
  ASSERT_TRUE(client_result);
  auto server_result = listener->accept(5s);
  ASSERT_TRUE(server_result);
  StreamSocket client = std::move(*client_result);
  StreamSocket server = std::move(*server_result);
  ASSERT_TRUE(client.set_send_buffer_size(1));
  ASSERT_TRUE(server.set_receive_buffer_size(1));  // Unix sockets do not inherit it from the listener
  EXPECT_LT(*server.receive_buffer_size(), 16 * 1024);
  const int sndbuf = *client.send_buffer_size();
  EXPECT_LT(sndbuf, 16 * 1024) << "buffers should be at their minimum";

  constexpr std::size_t kTotal = 64u << 20;
  const auto data = test::random_bytes(kTotal, 42);
  const auto expected = test::checksum(data);

  std::thread sender([&] {
    std::mt19937 rng(1);
    std::uniform_int_distribution<std::size_t> chunk(1, 256 * 1024);
    for (std::size_t off = 0; off < kTotal;) {
      const std::size_t n = std::min(chunk(rng), kTotal - off);
      ASSERT_TRUE(client.send_all(std::span(data).subspan(off, n), 60s));
      off += n;
    }
    ASSERT_TRUE(client.shutdown(ShutdownHow::write));
  });

  std::vector<std::byte> received(kTotal);
  std::mt19937 rng(2);
  std::uniform_int_distribution<std::size_t> chunk(1, 300 * 1024);
  for (std::size_t off = 0; off < kTotal;) {
    const std::size_t n = std::min(chunk(rng), kTotal - off);
    auto r = server.recv_exact(std::span(received).subspan(off, n), 60s);
    ASSERT_TRUE(r) << "at offset " << off << ": " << r.error().message();
    off += n;
  }
  sender.join();
  std::array<std::byte, 1> after{};
  auto eof = server.recv_some(after, 5s);
  ASSERT_TRUE(eof);
  EXPECT_EQ(*eof, 0u) << "nothing beyond the 64 MiB";
  EXPECT_EQ(test::checksum(received), expected);
}

INSTANTIATE_TEST_SUITE_P(Transports, PartialIo, ::testing::Values("unix", "tcp4"),
                         [](const auto& param_info) { return param_info.param; });

}  // namespace
}  // namespace sockit
