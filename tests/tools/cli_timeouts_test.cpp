// --idle-timeout (no byte either way for that long: exit 1) and --quit-after
// (that long after the end of stdin: exit 0) on connect and listen. Times are
// checked from below (never early) and from above only by a bound far from the
// value, which a timer that never fires would still exceed.
#include <gtest/gtest.h>
#include <poll.h>

#include "cli_harness.hpp"
#include "listen_server.hpp"
#include "support/temp_dir.hpp"

namespace sockit::test::cli {
namespace {

using Clock = std::chrono::steady_clock;

TEST(CliTimeouts, ConnectIdleTimeoutEndsASilentConnectionWithStatusOne) {
  ListenServer server({"tcp://127.0.0.1:0"});
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  const auto start = Clock::now();
  Process client({sockit_bin(), "connect", server.address, "--idle-timeout", "0.5"});
  Exit exit = client.finish(kWait);  // stdin closes, but the server never answers nor closes
  const double elapsed = seconds_since(start);
  EXPECT_EQ(exit.code, 1) << exit << "\n" << client.err();
  EXPECT_EQ(client.err(),
            "sockit: connect " + server.address + ": idle timeout: no data either way for 0.5 s\n");
  EXPECT_GE(elapsed, 0.5);
  EXPECT_LT(elapsed, 5.0);
  server.child.close_stdin();
  EXPECT_EQ(server.child.finish().code, 0) << server.child.err();
}

TEST(CliTimeouts, TrafficEitherWayKeepsTheIdleTimerFromFiring) {
  ListenServer server({"tcp://127.0.0.1:0"});
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  Process client({sockit_bin(), "connect", server.address, "--idle-timeout", "0.6"});
  const auto start = Clock::now();
  // Five lines, alternately from each side, 0.3 s apart: never 0.6 s of silence.
  for (int i = 0; i < 5; ++i) {
    const std::string line = "line " + std::to_string(i) + "\n";
    if (i % 2 == 0) {
      client.send(line);
      ASSERT_TRUE(server.child.wait_for_out(line)) << client.err();
    } else {
      server.child.send(line);
      ASSERT_TRUE(client.wait_for_out(line)) << client.err();
    }
    ::poll(nullptr, 0, 300);  // the pace of the conversation, not a wait for an event
  }
  EXPECT_GE(seconds_since(start), 1.5);  // longer than the timeout: it was reset
  Exit exit = client.finish();  // now silence: it ends by the timer
  EXPECT_EQ(exit.code, 1) << exit << "\n" << client.err();
  EXPECT_NE(client.err().find("idle timeout"), std::string::npos) << client.err();
  server.child.close_stdin();
  EXPECT_EQ(server.child.finish().code, 0) << server.child.err();
}

TEST(CliTimeouts, KeepClosesAnIdleClientAndServesTheNext) {
  ListenServer server({"tcp://127.0.0.1:0", "--keep", "--idle-timeout", "0.3", "-v"});
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  Process idle({sockit_bin(), "connect", server.address});  // says nothing, stdin open
  ASSERT_TRUE(server.child.wait_for_err("connection #1 closed: idle for longer than --idle-timeout"))
      << server.child.err();
  Exit idle_exit = idle.finish();  // the server closed: end of stream
  EXPECT_EQ(idle_exit.code, 0) << idle_exit << "\n" << idle.err();

  Process next({sockit_bin(), "connect", server.address});
  next.send("still serving\n");
  ASSERT_TRUE(server.child.wait_for_out("still serving\n")) << server.child.err();
  EXPECT_EQ(server.stop().code, 0) << server.child.err();
}

TEST(CliTimeouts, DatagramListenIdleTimeoutEndsWithStatusOne) {
  const auto start = Clock::now();
  ListenServer server({"udp://127.0.0.1:0", "--idle-timeout", "0.4"});
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  Exit exit = server.child.finish();
  EXPECT_EQ(exit.code, 1) << exit << "\n" << server.child.err();
  EXPECT_GE(seconds_since(start), 0.4);
  EXPECT_NE(server.child.err().find(": idle timeout: no data either way for 0.4 s\n"), std::string::npos)
      << server.child.err();
}

TEST(CliTimeouts, QuitAfterStopsThatLongAfterStdinEndsWithStatusZero) {
  ListenServer server({"unix:@" + unique_abstract_name()});
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  Process client({sockit_bin(), "connect", server.address, "--quit-after", "0.5"});
  client.send("bye\n");
  ASSERT_TRUE(server.child.wait_for_out("bye\n")) << server.child.err();
  server.child.send("reply before the end\n");
  ASSERT_TRUE(client.wait_for_out("reply before the end\n")) << client.err();
  const auto start = Clock::now();
  Exit exit = client.finish();  // the server never closes its side
  const double elapsed = seconds_since(start);
  EXPECT_EQ(exit.code, 0) << exit << "\n" << client.err();
  EXPECT_EQ(client.err(), "");
  EXPECT_GE(elapsed, 0.5);
  EXPECT_LT(elapsed, 5.0);
  EXPECT_EQ(client.out(), "reply before the end\n");
  server.child.close_stdin();
  EXPECT_EQ(server.child.finish().code, 0) << server.child.err();
}

TEST(CliTimeouts, QuitAfterZeroStopsAsSoonAsStdinIsSent) {
  ListenServer server({"tcp://127.0.0.1:0"});
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  Process client({sockit_bin(), "connect", server.address, "--quit-after", "0"});
  client.send("only this\n");
  Exit exit = client.finish();
  EXPECT_EQ(exit.code, 0) << exit << "\n" << client.err();
  EXPECT_TRUE(server.child.wait_for_out("only this\n")) << server.child.err();
  server.child.close_stdin();
  EXPECT_EQ(server.child.finish().code, 0) << server.child.err();
}

TEST(CliTimeouts, QuitAfterBoundsTheWaitAfterAnExecCommandEnds) {
  ListenServer server({"tcp://127.0.0.1:0"});
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  // The server never closes: without --quit-after the client would wait for it.
  Process client({sockit_bin(), "connect", server.address, "--exec", "echo hi", "--quit-after", "0.3"});
  Exit exit = client.finish();
  EXPECT_EQ(exit.code, 0) << exit << "\n" << client.err();
  EXPECT_TRUE(server.child.wait_for_out("hi\n")) << server.child.err();
  server.child.close_stdin();
  EXPECT_EQ(server.child.finish().code, 0) << server.child.err();
}

TEST(CliTimeouts, RejectsSecondsThatMeanNothing) {
  struct Case {
    const char* option;
    const char* value;
  };
  for (const Case c : {Case{"--idle-timeout", "0"}, Case{"--idle-timeout", "-1"}, Case{"--idle-timeout", "nan"},
                       Case{"--idle-timeout", "inf"}, Case{"--idle-timeout", "abc"},
                       Case{"--idle-timeout", "1e12"}, Case{"--quit-after", "-0.5"}, Case{"--quit-after", "nan"},
                       Case{"--quit-after", "1s"}}) {
    for (const char* command : {"connect", "listen"}) {
      Process child({sockit_bin(), command, "tcp://127.0.0.1:0", c.option, c.value});
      Exit exit = child.finish();
      EXPECT_EQ(exit.code, 2) << command << " " << c.option << " " << c.value << ": " << exit << "\n"
                              << child.err();
      EXPECT_NE(child.err().find("is not a number of seconds"), std::string::npos) << child.err();
    }
  }
}

}  // namespace
}  // namespace sockit::test::cli
