// `sockit echo` options that make no sense together: each is a usage error
// (exit 2) with one line that names the conflict, refused before anything is
// bound. Split from cli_echo_test.cpp, which runs the echo itself per backend.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "cli_harness.hpp"
#include "support/temp_dir.hpp"

namespace sockit::test::cli {
namespace {

Outcome run_echo(std::vector<std::string> args) {
  args.insert(args.begin(), "echo");
  return run_sockit(std::move(args));
}

TEST(CliEchoOptions, RefusesConnectionOptionsAndFramingForDatagramAddresses) {
  TempDir dir;
  const std::vector<std::vector<std::string>> connection_only = {
      {"--max-conns", "5"}, {"--max-conns-per-peer", "1"}, {"--idle-timeout", "1"}};
  for (const std::string& address : {std::string("udp://127.0.0.1:0"), "unix-dgram:" + dir.file("d.sock")}) {
    for (const auto& option : connection_only) {
      Outcome run = run_echo({address, option[0], option[1]});
      EXPECT_EQ(run.exit.code, 2) << address << " " << option[0] << ": " << run.exit;
      EXPECT_EQ(run.err, "sockit: echo " + address + ": " + option[0] +
                             " applies to connections (tcp://, unix:, unix-seqpacket:), not to datagrams\n");
    }
    Outcome framing = run_echo({address, "--framing", "raw"});
    EXPECT_EQ(framing.exit.code, 2) << address << " --framing: " << framing.exit;
    EXPECT_EQ(framing.err, "sockit: echo " + address +
                               ": --framing does not apply to datagrams (each datagram is one message)\n");
    Outcome huge = run_echo({address, "--max-frame", "16777217"});
    EXPECT_EQ(huge.exit.code, 2) << address << " --max-frame: " << huge.exit;
    EXPECT_EQ(huge.err,
              "sockit: echo " + address + ": --max-frame for datagrams is at most 16777216 (16 MiB)\n");
  }
  EXPECT_FALSE(std::filesystem::exists(dir.file("d.sock")));  // refused before binding
}

TEST(CliEchoOptions, RefusesSeveralThreadsForAUnixDatagramSocket) {
  TempDir dir;
  for (const std::string& address :
       {"unix-dgram:" + dir.file("t.sock"), "unix-dgram:@" + unique_abstract_name()}) {
    Outcome run = run_echo({address, "--threads", "2"});
    EXPECT_EQ(run.exit.code, 2) << address << ": " << run.exit;
    EXPECT_EQ(run.err, "sockit: echo " + address +
                           ": --threads needs udp:// (one SO_REUSEPORT socket per thread); a unix-dgram: "
                           "address is one socket, served by one thread\n");
  }
  EXPECT_FALSE(std::filesystem::exists(dir.file("t.sock")));  // refused before binding
}

TEST(CliEchoOptions, RefusesFramingForSeqpacketWhoseRecordsAreTheFraming) {
  TempDir dir;
  const std::string address = "unix-seqpacket:" + dir.file("s.sock");
  for (const char* framing : {"raw", "length", "line"}) {
    Outcome run = run_echo({address, "--framing", framing});
    EXPECT_EQ(run.exit.code, 2) << framing << ": " << run.exit;
    EXPECT_EQ(run.err, "sockit: echo " + address +
                           ": --framing does not apply to unix-seqpacket: (each record is one message)\n");
  }
  EXPECT_FALSE(std::filesystem::exists(dir.file("s.sock")));  // refused before binding
}

TEST(CliEchoOptions, RefusesMaxFrameWithRawFraming) {
  TempDir dir;
  for (const std::vector<std::string>& framing : {std::vector<std::string>{}, {"--framing", "raw"}}) {
    std::vector<std::string> args = {"unix:" + dir.file("raw.sock"), "--max-frame", "100"};
    args.insert(args.end(), framing.begin(), framing.end());
    Outcome run = run_echo(args);
    EXPECT_EQ(run.exit.code, 2) << run.exit;
    EXPECT_NE(run.err.find("--max-frame needs --framing length or line"), std::string::npos) << run.err;
  }
}

TEST(CliEchoOptions, RefusesAnUnknownBackendOrFraming) {
  EXPECT_EQ(run_echo({"tcp://127.0.0.1:0", "--backend", "kqueue"}).exit.code, 2);
  EXPECT_EQ(run_echo({"tcp://127.0.0.1:0", "--framing", "xml"}).exit.code, 2);
  EXPECT_EQ(run_echo({"tcp://127.0.0.1:0", "--threads", "0"}).exit.code, 2);
}

TEST(CliEchoOptions, ExplainsEveryOptionInHelp) {
  Process child({sockit_bin(), "echo", "--help"});
  Exit exit = child.finish();
  EXPECT_EQ(exit.code, 0) << exit;
  for (const char* option : {"--backend", "--threads", "--framing", "--max-conns", "--max-conns-per-peer",
                             "--idle-timeout", "--max-frame", "--stats-interval", "Examples:"}) {
    EXPECT_NE(child.out().find(option), std::string::npos) << option;
  }
}

}  // namespace
}  // namespace sockit::test::cli
