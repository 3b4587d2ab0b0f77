// Listener and listen(): Unix path safety, TCP restarts, backlog, accept deadlines.
#include "sockit/listener.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "sockit/sockit.hpp"
#include "support/bytes.hpp"
#include "support/child.hpp"
#include "support/connected.hpp"
#include "support/temp_dir.hpp"

namespace sockit {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

Address parse(const std::string& text) {
  auto a = Address::parse(text);
  EXPECT_TRUE(a) << text;
  return *a;
}

mode_t mode_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

// Proves a listener serves: one connect + accept + byte each way.
void expect_serves(Listener& listener, const Address& address) {
  auto client = connect(address, 5s);
  ASSERT_TRUE(client) << client.error().message();
  auto server = listener.accept(5s);
  ASSERT_TRUE(server) << server.error().message();
  ASSERT_TRUE(client->send_all("x", 5s));
  std::array<std::byte, 1> b{};
  ASSERT_TRUE(server->recv_exact(b, 5s));
}

TEST(ListenerUnixPath, SocketFileGetsMode0600ByDefault) {
  test::TempDir dir;
  auto listener = listen(parse("unix:" + dir.file("s.sock")));
  ASSERT_TRUE(listener) << listener.error().message();
  EXPECT_EQ(mode_of(dir.file("s.sock")), 0600u);
}

TEST(ListenerUnixPath, ModeIsAnOption) {
  test::TempDir dir;
  ListenOptions options;
  options.unix_file.mode = 0660;
  auto listener = listen(parse("unix:" + dir.file("s.sock")), options);
  ASSERT_TRUE(listener);
  EXPECT_EQ(mode_of(dir.file("s.sock")), 0660u);
}

// chown to another user needs root (CAP_CHOWN); without it there is nothing to show.
TEST(ListenerUnixPath, OwnerAndGroupAreOptions) {
  if (::geteuid() != 0) GTEST_SKIP() << "chown to another user needs root";
  test::TempDir dir;
  ListenOptions options;
  options.unix_file.owner = 65534;  // nobody
  options.unix_file.group = 65534;  // nogroup
  options.unix_file.mode = 0660;
  auto listener = listen(parse("unix:" + dir.file("s.sock")), options);
  ASSERT_TRUE(listener) << listener.error().message();
  struct stat st {};
  ASSERT_EQ(::stat(dir.file("s.sock").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 65534u);
  EXPECT_EQ(st.st_gid, 65534u);
  EXPECT_EQ(st.st_mode & 07777, 0660u);
  listener->close();  // still ours: removed although another user owns it now
  EXPECT_FALSE(fs::exists(dir.file("s.sock")));
}

TEST(ListenerUnixPath, ADatagramSocketFileTakesTheSameOptions) {
  if (::geteuid() != 0) GTEST_SKIP() << "chown to another user needs root";
  test::TempDir dir;
  UnixFileOptions file;
  file.mode = 0640;
  file.group = 65534;  // nogroup
  auto socket = DatagramSocket::bind(parse("unix-dgram:" + dir.file("d.sock")), {.unix_file = file});
  ASSERT_TRUE(socket) << socket.error().message();
  struct stat st {};
  ASSERT_EQ(::stat(dir.file("d.sock").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, ::geteuid());
  EXPECT_EQ(st.st_gid, 65534u);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
}

TEST(ListenerUnixPath, CreatesTheParentDirectoryWith0700OnRequest) {
  test::TempDir dir;
  const std::string path = dir.file("run/app/s.sock");
  ListenOptions options;
  options.unix_file.create_parent_directory = true;
  auto listener = listen(parse("unix:" + path), options);
  ASSERT_TRUE(listener) << listener.error().message();
  EXPECT_EQ(mode_of(dir.file("run/app")), 0700u);
  expect_serves(*listener, parse("unix:" + path));
}

TEST(ListenerUnixPath, WithoutTheOptionAMissingParentIsAnError) {
  test::TempDir dir;
  auto listener = listen(parse("unix:" + dir.file("missing/s.sock")));
  ASSERT_FALSE(listener);
  EXPECT_EQ(listener.error(), std::errc::no_such_file_or_directory);
}

TEST(ListenerUnixPath, ClosingRemovesTheSocketFile) {
  test::TempDir dir;
  {
    auto listener = listen(parse("unix:" + dir.file("s.sock")));
    ASSERT_TRUE(listener);
    EXPECT_TRUE(fs::exists(dir.file("s.sock")));
  }
  EXPECT_FALSE(fs::exists(dir.file("s.sock")));
}

TEST(ListenerUnixPath, AMovedListenerRemovesTheFileOnceOnly) {
  test::TempDir dir;
  auto first = listen(parse("unix:" + dir.file("s.sock")));
  ASSERT_TRUE(first);
  Listener moved = std::move(*first);
  first->close();  // the moved-from one owns nothing any more
  EXPECT_TRUE(fs::exists(dir.file("s.sock")));
  moved.close();
  EXPECT_FALSE(fs::exists(dir.file("s.sock")));
}

TEST(ListenerUnixPath, AStaleFileFromAKilledServerIsReplacedAtOnce) {
  test::TempDir dir;
  const std::string text = "unix:" + dir.file("s.sock");
  test::Child crashed([&] {
    auto l = listen(parse(text));
    if (!l) return 1;
    ::kill(::getpid(), SIGKILL);  // die without any cleanup, like kill -9
    return 2;
  });
  EXPECT_EQ(crashed.wait(), -SIGKILL);
  ASSERT_TRUE(fs::exists(dir.file("s.sock"))) << "the crash must leave the file behind for this test to mean anything";

  auto restarted = listen(parse(text));
  ASSERT_TRUE(restarted) << restarted.error().message();
  expect_serves(*restarted, parse(text));
}

TEST(ListenerUnixPath, ALiveServerKeepsItsPathAndKeepsServing) {
  test::TempDir dir;
  const Address address = parse("unix:" + dir.file("s.sock"));
  auto first = listen(address);
  ASSERT_TRUE(first);
  // The refused second server's probe is one connection the first sees open and close.
  auto second = listen(address);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error(), errc::address_in_use);
  EXPECT_TRUE(second.error() == std::errc::address_in_use);
  auto probe = first->accept(5s);
  ASSERT_TRUE(probe);
  expect_serves(*first, address);
}

TEST(ListenerUnixPath, ANonSocketFileIsNeverRemoved) {
  test::TempDir dir;
  std::ofstream(dir.file("data.txt")) << "precious";
  auto listener = listen(parse("unix:" + dir.file("data.txt")));
  ASSERT_FALSE(listener);
  EXPECT_EQ(listener.error(), errc::not_a_socket_file);
  std::string content;
  std::ifstream(dir.file("data.txt")) >> content;
  EXPECT_EQ(content, "precious");
}

TEST(ListenerUnixPath, ReleasingTheDescriptorHandsOverTheFileToo) {
  test::TempDir dir;
  Fd kept;
  {
    auto listener = listen(parse("unix:" + dir.file("s.sock")));
    ASSERT_TRUE(listener);
    kept = listener->release();
  }
  EXPECT_TRUE(fs::exists(dir.file("s.sock"))) << "the released fd still listens there";
  auto client = connect(parse("unix:" + dir.file("s.sock")), 5s);
  EXPECT_TRUE(client) << client.error().message();
}

TEST(ListenerUnixPath, StaleRemovalCanBeTurnedOff) {
  test::TempDir dir;
  const std::string text = "unix:" + dir.file("s.sock");
  test::Child crashed([&] {
    auto l = listen(parse(text));
    ::kill(::getpid(), SIGKILL);
    return l ? 2 : 1;
  });
  EXPECT_EQ(crashed.wait(), -SIGKILL);
  ListenOptions options;
  options.remove_stale = false;
  auto listener = listen(parse(text), options);
  ASSERT_FALSE(listener);
  EXPECT_EQ(listener.error(), errc::address_in_use);
}

TEST(ListenerUnixPath, CloseLeavesANewerServersFileAlone) {
  test::TempDir dir;
  const std::string path = dir.file("s.sock");
  auto old_server = listen(parse("unix:" + path));
  ASSERT_TRUE(old_server);
  // An operator removes the file and a new server binds the same path.
  fs::remove(path);
  auto new_server = listen(parse("unix:" + path));
  ASSERT_TRUE(new_server);
  old_server->close();
  EXPECT_TRUE(fs::exists(path));
  expect_serves(*new_server, parse("unix:" + path));
}

TEST(ListenerAbstract, LeavesNothingOnDisk) {
  const Address address = parse("unix:@" + test::unique_abstract_name());
  auto listener = listen(address);
  ASSERT_TRUE(listener);
  expect_serves(*listener, address);
  auto second = listen(address);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error(), std::errc::address_in_use);
}

TEST(ListenerTcp, PortZeroReportsTheRealPort) {
  auto listener = listen(parse("tcp://127.0.0.1:0"));
  ASSERT_TRUE(listener);
  auto local = listener->local_address();
  ASSERT_TRUE(local);
  EXPECT_NE(local->port(), 0);
  EXPECT_EQ(local->host(), "127.0.0.1");
  expect_serves(*listener, *local);
}

TEST(ListenerTcp, AMissingHostMeansLoopbackNotEveryInterface) {
  auto listener = listen(parse("tcp://:0"));
  ASSERT_TRUE(listener);
  auto local = listener->local_address();
  ASSERT_TRUE(local);
  EXPECT_EQ(local->host(), "127.0.0.1");
}

// The addresses of `family` that `name` has on this machine (its hosts file decides
// whether localhost has an IPv6 one), so a test can say what a bind must pick.
std::size_t addresses_of(const std::string& name, int family) {
  auto all = parse(name).resolve();
  EXPECT_TRUE(all) << name;
  if (!all) return 0;
  return static_cast<std::size_t>(
      std::count_if(all->begin(), all->end(), [&](const Endpoint& e) { return e.family() == family; }));
}

TEST(ListenerTcp, AFamilyBindsThatFamilysAddressOfAName) {
  for (const int family : {AF_INET, AF_INET6}) {
    SCOPED_TRACE(family == AF_INET ? "AF_INET" : "AF_INET6");
    auto listener = listen(parse("tcp://localhost:0"), {.family = family});
    if (addresses_of("tcp://localhost:0", family) == 0) {
      ASSERT_FALSE(listener);
      EXPECT_EQ(listener.error(), errc::no_address_of_family);
      continue;
    }
    ASSERT_TRUE(listener) << listener.error().message();
    auto local = listener->local_address();
    ASSERT_TRUE(local);
    EXPECT_EQ(local->host(), family == AF_INET ? "127.0.0.1" : "::1");
    expect_serves(*listener, *local);
  }
}

TEST(ListenerTcp, AFamilyGivesAnEmptyHostThatFamilysLoopback) {
  auto listener = listen(parse("tcp://:0"), {.family = AF_INET6});
  ASSERT_TRUE(listener) << listener.error().message();
  auto local = listener->local_address();
  ASSERT_TRUE(local);
  EXPECT_EQ(local->host(), "::1");
  expect_serves(*listener, *local);
}

TEST(Listener, AFamilyThatTheAddressCannotHaveIsRefused) {
  auto v6_as_v4 = listen(parse("tcp://[::1]:0"), {.family = AF_INET});
  ASSERT_FALSE(v6_as_v4);
  EXPECT_EQ(v6_as_v4.error(), errc::no_address_of_family);
  auto unix_with_family = listen(parse("unix:@" + test::unique_abstract_name()), {.family = AF_INET});
  ASSERT_FALSE(unix_with_family);
  EXPECT_EQ(unix_with_family.error(), errc::invalid_argument);
}

// True if /proc/net/tcp{,6} lists a TIME_WAIT socket on local port `port`.
bool time_wait_on_port(std::uint16_t port) {
  for (const char* file : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(file);
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state;
      fields >> slot >> local >> remote >> state;
      const auto colon = local.rfind(':');
      if (state == "06" && std::stoul(local.substr(colon + 1), nullptr, 16) == port) return true;
    }
  }
  return false;
}

TEST(ListenerTcp, RestartRebindsWhileOldConnectionsSitInTimeWait) {
  auto first = listen(parse("tcp://127.0.0.1:0"));
  ASSERT_TRUE(first);
  const Address bound = *first->local_address();
  {
    auto client = connect(bound, 5s);
    ASSERT_TRUE(client);
    auto server = first->accept(5s);
    ASSERT_TRUE(server);
    server->close();  // the server closes first, so its side goes to TIME_WAIT
    std::array<std::byte, 1> b{};
    auto eof = client->recv_some(b, 5s);
    ASSERT_TRUE(eof);
    EXPECT_EQ(*eof, 0u);
  }
  first->close();
  ASSERT_TRUE(time_wait_on_port(bound.port())) << "the scenario needs a TIME_WAIT socket on the port";
  auto restarted = listen(bound);
  ASSERT_TRUE(restarted) << restarted.error().message();
  expect_serves(*restarted, bound);
}

TEST(ListenerTcp, ReusePortLetsTwoListenersShareAPort) {
  ListenOptions options;
  options.reuse_port = true;
  auto a = listen(parse("tcp://127.0.0.1:0"), options);
  ASSERT_TRUE(a);
  auto b = listen(*a->local_address(), options);
  ASSERT_TRUE(b) << b.error().message();
  auto plain = listen(*a->local_address());
  ASSERT_FALSE(plain);
  EXPECT_EQ(plain.error(), std::errc::address_in_use);
}

TEST(Listener, BacklogIsClampedToSomaxconnAndReported) {
  int somaxconn = 0;
  std::ifstream("/proc/sys/net/core/somaxconn") >> somaxconn;
  ASSERT_GT(somaxconn, 0);
  ListenOptions options;
  options.backlog = somaxconn + 1000;
  auto listener = listen(parse("tcp://127.0.0.1:0"), options);
  ASSERT_TRUE(listener);
  EXPECT_EQ(listener->backlog(), somaxconn);
  options.backlog = 7;
  auto small = listen(parse("tcp://127.0.0.1:0"), options);
  ASSERT_TRUE(small);
  EXPECT_EQ(small->backlog(), 7);
}

TEST(Listener, AcceptGivesUpAtTheDeadline) {
  auto listener = listen(parse("unix:@" + test::unique_abstract_name()));
  ASSERT_TRUE(listener);
  const auto start = std::chrono::steady_clock::now();
  auto r = listener->accept(80ms);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::timed_out);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 75ms);
}

TEST(Listener, DatagramAddressesAreRefused) {
  auto r = listen(parse("udp://127.0.0.1:0"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::wrong_transport);
}

TEST(Listener, SeqPacketListenerAcceptsSeqPacketSockets) {
  test::TempDir dir;
  const Address address = parse("unix-seqpacket:" + dir.file("q.sock"));
  auto listener = listen(address);
  ASSERT_TRUE(listener) << listener.error().message();
  auto client = connect_seqpacket(address, 5s);
  ASSERT_TRUE(client) << client.error().message();
  auto wrong = listener->accept(50ms);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error(), errc::wrong_transport);
  auto server = listener->accept_seqpacket(5s);
  ASSERT_TRUE(server);
  ASSERT_TRUE(client->send(test::bytes_of("one record")));
  std::array<std::byte, 64> buf{};
  auto n = server->recv(buf, 5s);
  ASSERT_TRUE(n);
  EXPECT_EQ(test::string_of(std::span(buf).first(*n)), "one record");
}

}  // namespace
}  // namespace sockit
