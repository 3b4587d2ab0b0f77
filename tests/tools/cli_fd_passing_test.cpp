// `sockit send-fd` / `sockit recv-fd`: open files cross a Unix socket (SCM_RIGHTS)
// and arrive as the same open files, one or hundreds at a time.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli_harness.hpp"
#include "support/temp_dir.hpp"

namespace sockit::test::cli {
namespace {

void write_file(const std::string& path, const std::string& content) { std::ofstream(path) << content; }

std::size_t count_lines(const std::string& text) { return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')); }

struct Receiver {
  explicit Receiver(std::vector<std::string> args)
      : child([&] {
          args.insert(args.begin(), {sockit_bin(), "recv-fd"});
          return args;
        }()) {
    address = child.listening_address().value_or("");
  }
  Process child;
  std::string address;
};

Exit send_fd(const std::string& address, const std::vector<std::string>& files, std::string* err = nullptr) {
  std::vector<std::string> argv = {"send-fd", address};
  argv.insert(argv.end(), files.begin(), files.end());
  Outcome run = run_sockit(std::move(argv));
  if (err != nullptr) *err = std::move(run.err);
  return run.exit;
}

TEST(CliFdPassing, AFileArrivesAndCatCopiesItsContent) {
  TempDir dir;
  write_file(dir.file("a.txt"), "the content of a\n");
  Receiver receiver({"unix:" + dir.file("fd.sock"), "--cat"});
  ASSERT_FALSE(receiver.address.empty()) << receiver.child.err();
  std::string err;
  const Exit sent = send_fd(receiver.address, {dir.file("a.txt")}, &err);
  EXPECT_EQ(sent.code, 0) << sent << "\n" << err;
  const Exit received = receiver.child.finish();
  EXPECT_EQ(received.code, 0) << received << "\n" << receiver.child.err();
  EXPECT_EQ(receiver.child.out(), "the content of a\n");
  EXPECT_NE(receiver.child.err().find(": " + dir.file("a.txt") + " (regular file, 17 bytes, mode 0"),
            std::string::npos)
      << receiver.child.err();
}

// One message carries them all, in order; each line names the file the receiver got.
TEST(CliFdPassing, SeveralFilesAtOnceOverEverySocketType) {
  for (const std::string scheme : {"unix:", "unix-seqpacket:", "unix-dgram:"}) {
    SCOPED_TRACE(scheme);
    TempDir dir;
    write_file(dir.file("one"), "1\n");
    write_file(dir.file("two"), "22\n");
    write_file(dir.file("three"), "333\n");
    Receiver receiver({scheme + dir.file("fd.sock"), "--cat"});
    ASSERT_FALSE(receiver.address.empty()) << receiver.child.err();
    const Exit sent = send_fd(receiver.address, {dir.file("one"), dir.file("two"), dir.file("three")});
    EXPECT_EQ(sent.code, 0) << sent;
    const Exit received = receiver.child.finish();
    EXPECT_EQ(received.code, 0) << received << "\n" << receiver.child.err();
    EXPECT_EQ(receiver.child.out(), "1\n22\n333\n");
    const std::string& err = receiver.child.err();
    const auto one = err.find(dir.file("one") + " (");
    const auto two = err.find(dir.file("two") + " (");
    const auto three = err.find(dir.file("three") + " (");
    ASSERT_NE(three, std::string::npos) << err;
    EXPECT_LT(one, two);
    EXPECT_LT(two, three);
  }
}

// More than the kernel's 253 per message: send-fd splits them, recv-fd takes every batch.
TEST(CliFdPassing, MoreFilesThanOneMessageHoldsAllArrive) {
  TempDir dir;
  std::vector<std::string> files;
  for (int i = 0; i < 300; ++i) {
    files.push_back(dir.file("f" + std::to_string(i)));
    write_file(files.back(), std::to_string(i));
  }
  Receiver receiver({"unix:" + dir.file("fd.sock")});
  ASSERT_FALSE(receiver.address.empty()) << receiver.child.err();
  const Exit sent = send_fd(receiver.address, files);
  EXPECT_EQ(sent.code, 0) << sent;
  const Exit received = receiver.child.finish();
  EXPECT_EQ(received.code, 0) << received << "\n" << receiver.child.err();
  EXPECT_EQ(count_lines(receiver.child.out()), 300u);
  EXPECT_NE(receiver.child.out().find(files.back() + " (regular file, 3 bytes"), std::string::npos);
}

// The descriptor is the sender's open file: its stdin, a pipe here, passed with "-".
TEST(CliFdPassing, StdinIsPassedAsItIs) {
  TempDir dir;
  Receiver receiver({"unix:@" + unique_abstract_name(), "--cat"});
  ASSERT_FALSE(receiver.address.empty()) << receiver.child.err();
  Process sender({sockit_bin(), "send-fd", receiver.address, "-"});
  sender.send("through the pipe\n");
  const Exit sent = sender.finish();  // closes our end: the receiver's --cat sees EOF
  EXPECT_EQ(sent.code, 0) << sent << "\n" << sender.err();
  const Exit received = receiver.child.finish();
  EXPECT_EQ(received.code, 0) << received << "\n" << receiver.child.err();
  EXPECT_EQ(receiver.child.out(), "through the pipe\n");
  EXPECT_NE(receiver.child.err().find("pipe:["), std::string::npos) << receiver.child.err();
}

TEST(CliFdPassing, NonUnixAddressesAreUsageErrors) {
  for (const std::string command : {"send-fd", "recv-fd"}) {
    for (const std::string address : {"tcp://127.0.0.1:1", "udp://127.0.0.1:1"}) {
      SCOPED_TRACE(command + " " + address);
      std::vector<std::string> argv = {sockit_bin(), command, address};
      if (command == "send-fd") argv.push_back("/etc/hostname");
      Process child(argv);
      const Exit exit = child.finish();
      EXPECT_EQ(exit.code, 2) << exit;
      EXPECT_NE(child.err().find("sockit: " + command + " " + address + ": descriptors pass only over Unix sockets"),
                std::string::npos)
          << child.err();
    }
  }
}

// A file that cannot be opened stops send-fd before it connects: the receiver keeps
// waiting for a real sender instead of being handed nothing.
TEST(CliFdPassing, AMissingFileFailsBeforeConnecting) {
  TempDir dir;
  write_file(dir.file("ok"), "ok\n");
  Receiver receiver({"unix:" + dir.file("fd.sock"), "--cat"});
  ASSERT_FALSE(receiver.address.empty()) << receiver.child.err();
  std::string err;
  const Exit failed = send_fd(receiver.address, {dir.file("missing")}, &err);
  EXPECT_EQ(failed.code, 1) << failed;
  EXPECT_NE(err.find("sockit: send-fd " + dir.file("missing") + ": open: no such file or directory"),
            std::string::npos)
      << err;
  const Exit sent = send_fd(receiver.address, {dir.file("ok")});
  EXPECT_EQ(sent.code, 0) << sent;
  const Exit received = receiver.child.finish();
  EXPECT_EQ(received.code, 0) << received << "\n" << receiver.child.err();
  EXPECT_EQ(receiver.child.out(), "ok\n");
}

// The demo (scripts/fd-passing-demo.sh) checks its own outcome; it must keep working.
TEST(CliFdPassing, TheDemoScriptShowsAFileReadWithoutItsPath) {
  const char* dir = std::getenv("SOCKIT_SOURCE_DIR");
  const std::filesystem::path root = dir != nullptr && *dir != '\0'
                                         ? std::filesystem::path(dir)
                                         : std::filesystem::path(__FILE__).parent_path().parent_path().parent_path();
  const std::string script = (root / "scripts" / "fd-passing-demo.sh").string();
  ASSERT_TRUE(std::filesystem::exists(script)) << script << ": set SOCKIT_SOURCE_DIR";
  Process demo({"bash", script, sockit_bin()});
  const Exit exit = demo.finish();
  EXPECT_EQ(exit.code, 0) << exit << "\n" << demo.out() << demo.err();
  EXPECT_NE(demo.out().find("# OK: the receiver read a file it could not open"), std::string::npos) << demo.out();
  EXPECT_NE(demo.out().find("the secret is 42\n"), std::string::npos) << demo.out();
}

}  // namespace
}  // namespace sockit::test::cli
