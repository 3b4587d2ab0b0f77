// `kill -9` of `sockit echo` followed at once by a restart on the same address
// serves, on the default backend and on io_uring (issue 11: with io_uring the
// restart used to fail about 4 times in 5, "address in use", because a killed
// process's ring keeps its listening socket for tens of milliseconds). The Unix path
// is freed by the stale-listener check, TCP by echo's --bind-retry (default 2 s).
// A supervisor (systemd, runit, a shell loop) restarts exactly like this.
#include <gtest/gtest.h>
#include <signal.h>

#include <string>
#include <vector>

#include "cli_harness.hpp"
#include "sockit/sockit.hpp"
#include "support/loop_helpers.hpp"
#include "support/temp_dir.hpp"

namespace sockit::test::cli {
namespace {

constexpr int kRounds = 20;

bool echoes(const std::string& address_text, int round) {
  auto address = Address::parse(address_text);
  if (!address) return false;
  auto client = connect(*address, 5s);
  if (!client) return false;
  const std::string message = "round " + std::to_string(round) + "\n";
  if (!client->send_all(std::as_bytes(std::span(message)), 5s)) return false;
  std::string reply(message.size(), '\0');
  if (!client->recv_exact(std::as_writable_bytes(std::span(reply)), 5s)) return false;
  return reply == message;
}

class CliRestartAfterKill : public ::testing::TestWithParam<std::string> {
 protected:
  void run_rounds(std::string address) {
    if (!make_loop_or_skip({.backend = GetParam()})) return;  // a skip only where the kernel refuses io_uring
    for (int round = 0; round < kRounds; ++round) {
      EchoServer server(address, {"--backend", GetParam()});
      ASSERT_FALSE(server.address.empty()) << "round " << round << ": the restart did not listen:\n"
                                           << server.child.err();
      address = server.address;  // port 0 becomes the real port for the next rounds
      ASSERT_TRUE(echoes(address, round)) << "round " << round;
      server.child.signal(SIGKILL);
      EXPECT_EQ(server.child.finish().signal, SIGKILL);
    }
  }
};

TEST_P(CliRestartAfterKill, OnAUnixPathEveryRestartServes) {
  TempDir dir;
  run_rounds("unix:" + dir.file("echo.sock"));
}

TEST_P(CliRestartAfterKill, OnATcpPortEveryRestartServes) { run_rounds("tcp://127.0.0.1:0"); }

INSTANTIATE_TEST_SUITE_P(Backends, CliRestartAfterKill, ::testing::Values("epoll", "io_uring"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace sockit::test::cli
