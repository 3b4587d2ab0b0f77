// --mode, --owner, --group and --create-parent on the commands that bind a Unix
// path (listen, echo, recv-fd), and their refusal everywhere else.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "cli_harness.hpp"
#include "support/temp_dir.hpp"

namespace sockit::test::cli {
namespace {

struct FileStat {
  mode_t mode = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

FileStat stat_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return {static_cast<mode_t>(st.st_mode & 07777), st.st_uid, st.st_gid};
}

// Starts `sockit ARGS...`, waits until it listens, stops it; returns what the
// socket file looked like while it served.
FileStat serve_and_stat(std::vector<std::string> args, const std::string& path) {
  args.insert(args.begin(), sockit_bin());
  Process server(args);
  const auto address = server.listening_address();
  EXPECT_TRUE(address.has_value()) << server.err();
  const FileStat seen = address ? stat_of(path) : FileStat{};
  server.signal(SIGINT);
  const Exit exit = server.finish();
  EXPECT_EQ(exit.code, 0) << exit << "\n" << server.err();
  EXPECT_FALSE(std::filesystem::exists(path)) << "the socket file is removed at the end";
  return seen;
}

TEST(CliSocketFile, ModeIsAppliedOnEveryBindingCommand) {
  TempDir dir;
  EXPECT_EQ(serve_and_stat({"listen", "unix:" + dir.file("l.sock"), "--mode", "640"}, dir.file("l.sock")).mode,
            0640u);
  EXPECT_EQ(serve_and_stat({"listen", "unix-dgram:" + dir.file("ld.sock"), "--mode", "0604"}, dir.file("ld.sock")).mode,
            0604u);
  EXPECT_EQ(serve_and_stat({"echo", "unix:" + dir.file("e.sock"), "--mode", "660"}, dir.file("e.sock")).mode, 0660u);
  EXPECT_EQ(serve_and_stat({"echo", "unix-dgram:" + dir.file("ed.sock"), "--mode", "666"}, dir.file("ed.sock")).mode,
            0666u);
  EXPECT_EQ(serve_and_stat({"echo", "unix-seqpacket:" + dir.file("es.sock"), "--mode", "620"}, dir.file("es.sock")).mode,
            0620u);
  EXPECT_EQ(serve_and_stat({"recv-fd", "unix:" + dir.file("r.sock"), "--mode", "622"}, dir.file("r.sock")).mode,
            0622u);
}

TEST(CliSocketFile, WithoutModeTheFileIs0600) {
  TempDir dir;
  EXPECT_EQ(serve_and_stat({"listen", "unix:" + dir.file("l.sock")}, dir.file("l.sock")).mode, 0600u);
}

// We run as root in CI; chown to another user is root's (CAP_CHOWN) alone.
TEST(CliSocketFile, OwnerAndGroupByNameAndById) {
  if (::geteuid() != 0) GTEST_SKIP() << "chown to another user needs root";
  TempDir dir;
  const FileStat by_name = serve_and_stat(
      {"listen", "unix:" + dir.file("n.sock"), "--owner", "nobody", "--group", "nogroup"}, dir.file("n.sock"));
  EXPECT_EQ(by_name.uid, 65534u);
  EXPECT_EQ(by_name.gid, 65534u);
  const FileStat by_id =
      serve_and_stat({"echo", "unix-dgram:" + dir.file("i.sock"), "--owner", "65534", "--group", "65534", "--mode",
                      "660"},
                     dir.file("i.sock"));
  EXPECT_EQ(by_id.uid, 65534u);
  EXPECT_EQ(by_id.gid, 65534u);
  EXPECT_EQ(by_id.mode, 0660u);
  const FileStat group_only =
      serve_and_stat({"echo", "unix:" + dir.file("g.sock"), "--group", "nogroup"}, dir.file("g.sock"));
  EXPECT_EQ(group_only.uid, ::geteuid());
  EXPECT_EQ(group_only.gid, 65534u);
}

TEST(CliSocketFile, CreateParentMakesTheDirectoryWith0700) {
  TempDir dir;
  const std::string path = dir.file("run/app/s.sock");
  serve_and_stat({"listen", "unix:" + path, "--create-parent"}, path);
  EXPECT_EQ(stat_of(dir.file("run/app")).mode, 0700u);

  Process without({sockit_bin(), "listen", "unix:" + dir.file("missing/s.sock")});
  const Exit exit = without.finish();
  EXPECT_EQ(exit.code, 1) << exit;
  EXPECT_NE(without.err().find("no such file or directory"), std::string::npos) << without.err();
}

// Each bad value is refused while parsing: exit 2, and nothing is bound.
TEST(CliSocketFile, BadValuesAreUsageErrors) {
  TempDir dir;
  const std::string address = "unix:" + dir.file("s.sock");
  const std::vector<std::vector<std::string>> cases = {
      {"--mode", "8"},       {"--mode", "12345"},   {"--mode", "-1"},          {"--mode", "rw"},
      {"--mode", ""},        {"--mode", "0x1ff"},   {"--mode", " 600"},        {"--owner", "no-such-user-x"},
      {"--owner", "-1"},     {"--owner", "4294967295"}, {"--group", "no-such-group-x"}, {"--group", "1.5"},
  };
  for (const auto& option : cases) {
    SCOPED_TRACE(option[0] + " '" + option[1] + "'");
    Process child({sockit_bin(), "listen", address, option[0], option[1]});
    const Exit exit = child.finish();
    EXPECT_EQ(exit.code, 2) << exit << "\n" << child.err();
    EXPECT_NE(child.err().find(option[0]), std::string::npos) << child.err();
    EXPECT_FALSE(std::filesystem::exists(dir.file("s.sock")));
  }
}

// An address without a socket file has nothing to apply them to: a usage error
// that says so, not an option silently dropped.
TEST(CliSocketFile, OptionsOnAddressesWithoutAFileAreUsageErrors) {
  const std::vector<std::vector<std::string>> cases = {
      {"listen", "tcp://127.0.0.1:0", "--mode", "600"},
      {"listen", "udp://127.0.0.1:0", "--owner", "nobody"},
      {"listen", "unix:@sockit-no-file", "--group", "nogroup"},
      {"echo", "tcp://127.0.0.1:0", "--create-parent"},
      {"echo", "udp://127.0.0.1:0", "--mode", "600"},
      {"echo", "unix-dgram:@sockit-no-file", "--mode", "600"},
      {"recv-fd", "unix:@sockit-no-file", "--owner", "0"},
  };
  for (const auto& args : cases) {
    SCOPED_TRACE(args[0] + " " + args[1] + " " + args[2]);
    std::vector<std::string> argv = {sockit_bin()};
    argv.insert(argv.end(), args.begin(), args.end());
    Process child(argv);
    const Exit exit = child.finish();
    EXPECT_EQ(exit.code, 2) << exit << "\n" << child.err();
    EXPECT_NE(child.err().find("sockit: " + args[0] + " " + args[1] + ": " + args[2] + " applies to Unix socket paths"),
              std::string::npos)
        << child.err();
    EXPECT_EQ(child.err().find("listening on"), std::string::npos) << child.err();
  }
}

}  // namespace
}  // namespace sockit::test::cli
