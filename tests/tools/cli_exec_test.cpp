// `--exec CMD` on listen and connect: the command gets the socket as stdin and
// stdout, its addresses in the environment, and a half-close when it is done;
// `listen --keep --exec` runs one command per client at the same time; a signal
// ends the commands too.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>

#include <cerrno>
#include <cstdlib>

#include "cli_harness.hpp"
#include "listen_server.hpp"
#include "support/temp_dir.hpp"

namespace sockit::test::cli {
namespace {

// The pid in "started --exec command (pid N)" (listen -v), or -1.
pid_t exec_pid(Process& server) {
  static constexpr std::string_view kPrefix = "started --exec command (pid ";
  if (!server.wait_for_err(kPrefix) || !server.wait_for_err(") for")) return -1;
  const auto at = server.err().find(kPrefix) + kPrefix.size();
  return static_cast<pid_t>(std::atoi(server.err().c_str() + at));
}

// Whether process group `pgid` is gone within kWait. Its last members may be
// zombies for a moment after sockit exits, until init reaps them: they count as
// alive for kill(2), so this waits rather than asserting at once. A member that
// really survived (a 60 s sleep) is still there when the wait ends.
bool process_group_ends(pid_t pgid) {
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::kill(-pgid, 0) == -1 && errno == ESRCH) return true;
    ::poll(nullptr, 0, 10);  // nothing to wait on: init's reaping sends no signal to us
  }
  return false;
}

// A client sends `input` through `listen --exec COMMAND` on `address` and
// expects `expected` back, byte for byte, and both sides to exit 0.
void expect_exec_reply(const std::string& listen_address, const std::string& command,
                       const std::string& input, const std::string& expected) {
  ListenServer server({listen_address, "--exec", command});
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  Process client({sockit_bin(), "connect", server.address});
  client.send(input);
  Exit client_exit = client.finish();
  EXPECT_EQ(client_exit.code, 0) << client_exit << "\n" << client.err();
  EXPECT_EQ(client.out(), expected);
  Exit server_exit = server.child.finish();
  EXPECT_EQ(server_exit.code, 0) << server_exit << "\n" << server.child.err();
}

TEST(CliExec, ListenRunsTheCommandWithTheSocketAsStdioOverTcp) {
  expect_exec_reply("tcp://127.0.0.1:0", "tr a-z A-Z", "hello, exec\n", "HELLO, EXEC\n");
}

TEST(CliExec, ListenRunsTheCommandWithTheSocketAsStdioOverUnix) {
  TempDir dir;
  expect_exec_reply("unix:" + dir.file("exec.sock"), "tr a-z A-Z", "over unix\n", "OVER UNIX\n");
}

TEST(CliExec, CatThroughExecIsByteExactForAMegabyteOverTcpAndUnix) {
  TempDir dir;
  const std::string input_path = dir.file("input.bin");
  const std::string data = write_random_file(input_path, 1 << 20);
  for (const std::string address : {std::string("tcp://127.0.0.1:0"), "unix:" + dir.file("cat.sock")}) {
    ListenServer server({address, "--exec", "cat"});
    ASSERT_FALSE(server.address.empty()) << server.child.err();
    Process client({sockit_bin(), "connect", server.address}, {.stdin_file = input_path});
    Exit client_exit = client.finish();
    EXPECT_EQ(client_exit.code, 0) << client_exit << "\n" << client.err();
    EXPECT_EQ(client.out().size(), data.size()) << address;
    EXPECT_TRUE(client.out() == data) << address << ": the bytes differ";
    Exit server_exit = server.child.finish();
    EXPECT_EQ(server_exit.code, 0) << server_exit << "\n" << server.child.err();
  }
}

TEST(CliExec, ConnectGivesTheConnectionToTheCommand) {
  TempDir dir;
  ListenServer server({"unix:" + dir.file("c.sock")});
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  server.child.send("question from the server\n");
  server.child.close_stdin();

  Process client({sockit_bin(), "connect", server.address, "--exec", "tr a-z A-Z"});
  Exit client_exit = client.finish();
  EXPECT_EQ(client_exit.code, 0) << client_exit << "\n" << client.err();
  EXPECT_EQ(client.out(), "");  // the command's output went to the socket, not to our stdout
  Exit server_exit = server.child.finish();
  EXPECT_EQ(server_exit.code, 0) << server_exit << "\n" << server.child.err();
  EXPECT_EQ(server.child.out(), "QUESTION FROM THE SERVER\n");
}

TEST(CliExec, TheCommandSeesThePeerAndLocalAddresses) {
  ListenServer server({"tcp://127.0.0.1:0", "--exec", "printf '%s|%s' \"$SOCKIT_PEER\" \"$SOCKIT_LOCAL\""});
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  Process client({sockit_bin(), "connect", server.address});
  Exit exit = client.finish();
  EXPECT_EQ(exit.code, 0) << exit << "\n" << client.err();
  const std::string& out = client.out();
  const auto bar = out.find('|');
  ASSERT_NE(bar, std::string::npos) << out;
  EXPECT_TRUE(out.starts_with("tcp://127.0.0.1:")) << out;
  EXPECT_EQ(out.substr(bar + 1), server.address);
  EXPECT_EQ(server.child.finish().code, 0) << server.child.err();
}

TEST(CliExec, ACommandThatExitsFirstHalfClosesAndTheClientCanStillSend) {
  ListenServer server({"tcp://127.0.0.1:0", "-v", "--exec", "echo bye"});
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  Process client({sockit_bin(), "connect", server.address});
  // The command has answered and exited: the client sees the end of the stream...
  ASSERT_TRUE(client.wait_for_out("bye\n")) << client.err();
  ASSERT_TRUE(server.child.wait_for_err("ended: exit status 0")) << server.child.err();
  // ...while its own direction is still open: what it sends now is read and dropped,
  // not answered with a reset.
  client.send("late bytes");
  Exit client_exit = client.finish();
  EXPECT_EQ(client_exit.code, 0) << client_exit << "\n" << client.err();
  EXPECT_EQ(client.out(), "bye\n");
  Exit server_exit = server.child.finish();
  EXPECT_EQ(server_exit.code, 0) << server_exit << "\n" << server.child.err();
  EXPECT_NE(server.child.err().find("dropped 10 bytes"), std::string::npos) << server.child.err();
}

TEST(CliExec, APeerThatClosesFirstGivesTheCommandEndOfInput) {
  ListenServer server({"unix:@" + unique_abstract_name(), "--exec", "cat; echo done"});
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  Process client({sockit_bin(), "connect", server.address});
  client.send("abc\n");
  Exit exit = client.finish();  // closes stdin: the client half-closes, cat sees EOF
  EXPECT_EQ(exit.code, 0) << exit << "\n" << client.err();
  EXPECT_EQ(client.out(), "abc\ndone\n");
  EXPECT_EQ(server.child.finish().code, 0) << server.child.err();
}

TEST(CliExec, TheCommandsFailureIsExitStatusOneWithItsStatus) {
  ListenServer server({"tcp://127.0.0.1:0"});
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  server.child.close_stdin();
  Process client({sockit_bin(), "connect", server.address, "--exec", "cat >/dev/null; exit 3"});
  Exit exit = client.finish();
  EXPECT_EQ(exit.code, 1) << exit;
  EXPECT_EQ(client.err(),
            "sockit: connect " + server.address + ": --exec command ended with exit status 3\n");
  EXPECT_EQ(server.child.finish().code, 0) << server.child.err();
}

TEST(CliExec, KeepRunsOneCommandPerClientAtTheSameTime) {
  // tr answers only at the end of its input, so a client whose answer arrives
  // while another client is still connected proves the two were served at once.
  ListenServer server({"tcp://127.0.0.1:0", "--keep", "-v", "--exec", "tr a-z A-Z"});
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  Process first({sockit_bin(), "connect", server.address});
  first.send("first\n");
  ASSERT_TRUE(server.child.wait_for_err("connection #1 from")) << server.child.err();
  for (const char* name : {"second", "third"}) {
    Process other({sockit_bin(), "connect", server.address});
    other.send(std::string(name) + "\n");
    Exit exit = other.finish();
    EXPECT_EQ(exit.code, 0) << exit << "\n" << other.err();
    std::string upper(name);
    for (char& c : upper) c = static_cast<char>(c - 'a' + 'A');
    EXPECT_EQ(other.out(), upper + "\n");
  }
  EXPECT_EQ(first.out(), "");  // still connected, still unanswered
  Exit first_exit = first.finish();
  EXPECT_EQ(first_exit.code, 0) << first_exit << "\n" << first.err();
  EXPECT_EQ(first.out(), "FIRST\n");
  EXPECT_EQ(server.stop().code, 0) << server.child.err();
}

TEST(CliExec, SigintEndsRunningCommandsEvenOnesThatIgnoreSigterm) {
  // The shell ignores SIGTERM and so does its sleep: only the SIGKILL after the
  // grace period ends them, and it must reach the whole process group.
  ListenServer server(
      {"tcp://127.0.0.1:0", "--keep", "-v", "--exec", "trap '' TERM; echo ready; sleep 60; :"});
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  Process client({sockit_bin(), "connect", server.address});
  // Only once the trap is set does the test show anything; a SIGTERM before it
  // would end the shell at once.
  ASSERT_TRUE(client.wait_for_out("ready\n")) << client.err();
  const pid_t pid = exec_pid(server.child);
  ASSERT_GT(pid, 0) << server.child.err();
  ASSERT_EQ(::kill(-pid, 0), 0) << "the command's process group should exist";

  const auto start = std::chrono::steady_clock::now();
  Exit exit = server.stop();
  EXPECT_EQ(exit.code, 0) << exit << "\n" << server.child.err();
  EXPECT_GE(seconds_since(start), 1.9) << "SIGKILL came before the grace period was over";
  EXPECT_TRUE(process_group_ends(pid)) << "a process of the command survived";
  // The client sees the connection end.
  Exit client_exit = client.finish();
  EXPECT_EQ(client_exit.code, 0) << client_exit << "\n" << client.err();
  EXPECT_EQ(client.out(), "ready\n");
}

TEST(CliExec, SigintEndsTheCommandOfConnect) {
  ListenServer server({"tcp://127.0.0.1:0"});
  ASSERT_FALSE(server.address.empty()) << server.child.err();
  Process client({sockit_bin(), "connect", "-v", server.address, "--exec", "sleep 60"});
  const pid_t pid = exec_pid(client);
  ASSERT_GT(pid, 0) << client.err();
  client.signal(SIGINT);
  Exit exit = client.finish();
  EXPECT_EQ(exit.code, 0) << exit << "\n" << client.err();
  EXPECT_TRUE(process_group_ends(pid)) << "the command survived";
  server.child.close_stdin();
  EXPECT_EQ(server.child.finish().code, 0) << server.child.err();
}

TEST(CliExec, RejectsWhatCannotWorkWithExec) {
  const std::vector<std::vector<std::string>> cases = {
      {"listen", "udp://127.0.0.1:0", "--exec", "cat"},
      {"listen", "unix-dgram:@x", "--exec", "cat"},
      {"listen", "tcp://127.0.0.1:0", "--exec", "cat", "--hex"},
      {"listen", "tcp://127.0.0.1:0", "--exec", "cat", "--idle-timeout", "1"},
      {"connect", "tcp://127.0.0.1:1", "--exec", "cat", "--hex"},
      {"connect", "tcp://127.0.0.1:1", "--exec", ""},
      {"connect", "tcp://127.0.0.1:1", "--exec"},
  };
  for (std::vector<std::string> args : cases) {
    args.insert(args.begin(), sockit_bin());
    Process child(args);
    Exit exit = child.finish();
    EXPECT_EQ(exit.code, 2) << exit << " for " << args[1] << " " << args[2] << " " << args.back();
    EXPECT_TRUE(child.err().starts_with("sockit: ") || child.err().find("--exec") != std::string::npos)
        << child.err();
  }
}

}  // namespace
}  // namespace sockit::test::cli
