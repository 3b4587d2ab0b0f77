// The server under the load, on every backend: 1,000 concurrent clients,
// each echoing 1,000 random-sized length-prefixed frames, every byte verified.
// The clients run in a child process (tests/support/echo_load: raw epoll, not
// sockit's loop), so the server's process holds only its own descriptors, as in
// production, and the select backend stays under FD_SETSIZE.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "sockit/net/server.hpp"
#include "sockit/sockit.hpp"
#include "support/child.hpp"
#include "support/echo_load.hpp"
#include "support/loop_helpers.hpp"

namespace sockit::net {
namespace {

using namespace std::chrono_literals;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
// Sanitized builds run about ten times slower: they check the same code paths
// for memory and thread errors with a tenth of the messages.
constexpr int kClients = 300;
constexpr int kFrames = 300;
#else
constexpr int kClients = 1000;
constexpr int kFrames = 1000;
#endif

// Room for the clients (child) and their server-side connections (here).
bool raise_descriptor_limit(rlim_t wanted) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return false;
  if (limit.rlim_cur >= wanted) return true;
  if (limit.rlim_max < wanted) return false;
  limit.rlim_cur = wanted;
  return ::setrlimit(RLIMIT_NOFILE, &limit) == 0;
}

class ServerUnderLoad : public test::LoopTest {};

TEST_P(ServerUnderLoad, ThousandClientsEachEchoThousandRandomSizedFramesWithEveryByteVerified) {
  if (!raise_descriptor_limit(kClients + 200)) GTEST_SKIP() << "RLIMIT_NOFILE hard limit is below " << kClients + 200;
  ServerOptions options;
  options.backend = GetParam();
  options.threads = 2;
  options.connection.framing = Framing::length_prefix();
  auto created = Server::create(*Address::parse("tcp://127.0.0.1:0"), options, [](Connection& c) {
    c.on_message([](Connection& self, std::span<const std::byte> m) { (void)self.send(m); });
  });
  ASSERT_TRUE(created) << created.error().message();
  Server& server = **created;

  // Fork before the workers start: a child forked while other threads run may
  // inherit a lock one of them held (sanitizer allocators do not all guard fork).
  const auto started = std::chrono::steady_clock::now();
  test::Child clients([&] {
    test::EchoLoad load;
    load.connections = kClients;
    load.frames_per_connection = kFrames;
    load.max_payload = 1000;
    load.window = 8;
    load.time_limit = 120s;
    const auto result = test::run_echo_load(server.local_address(), load);
    if (!result.error.empty()) std::fprintf(stderr, "echo load: %s\n", result.error.c_str());
    return result.error.empty() && result.frames_verified == std::uint64_t{kClients} * kFrames ? 0 : 1;
  });
  ASSERT_TRUE(server.start());
  EXPECT_EQ(clients.wait(150s), 0) << "the load child reports what went wrong on stderr";
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  std::printf("%d clients x %d frames on %s: %lld ms\n", kClients, kFrames, GetParam().c_str(),
              static_cast<long long>(took.count()));

  // The client process is gone, so every connection closes; all its traffic is counted.
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (server.stats().active > 0 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(5ms);
  const ServerStats stats = server.stats();
  EXPECT_EQ(stats.active, 0u);
  EXPECT_EQ(stats.accepted, std::uint64_t{kClients});
  EXPECT_EQ(stats.messages_in, std::uint64_t{kClients} * kFrames);
  EXPECT_EQ(stats.messages_out, std::uint64_t{kClients} * kFrames);
  EXPECT_EQ(stats.bytes_in, stats.bytes_out);
  EXPECT_EQ(stats.closed_by_error, 0u);
  server.shutdown(1s);
}

INSTANTIATE_TEST_SUITE_P(Backends, ServerUnderLoad, ::testing::ValuesIn(test::backends_under_test()),
                         test::backend_param_name);

}  // namespace
}  // namespace sockit::net
