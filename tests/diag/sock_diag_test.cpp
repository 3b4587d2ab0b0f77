// diag against the live kernel and a fake /proc: sockets this test creates are
// found with the right names, states, queues and owner, and the trouble checks
// flag the situations they name. Loopback and temp-dir Unix paths only.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "sockit/diag/processes.hpp"
#include "sockit/diag/sockets.hpp"
#include "sockit/diag/trouble.hpp"
#include "sockit/sockit.hpp"
#include "support/temp_dir.hpp"

namespace sockit::diag {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::uint64_t inode_of(int fd) {
  struct stat st {};
  EXPECT_EQ(::fstat(fd, &st), 0);
  return st.st_ino;
}

template <typename Info>
const Info* with_inode(const std::vector<Info>& sockets, std::uint64_t inode) {
  const auto it = std::ranges::find_if(sockets, [&](const Info& s) { return s.inode == inode; });
  return it == sockets.end() ? nullptr : &*it;
}

bool has_kind(const std::vector<Trouble>& found, TroubleKind kind) {
  return std::ranges::any_of(found, [&](const Trouble& t) { return t.kind == kind; });
}

TEST(SockDiag, UnixListenerWithAFullBacklogShowsItsQueueAndIsFlagged) {
  test::TempDir dir;
  const std::string path = dir.file("l.sock");
  auto listener = listen(*Address::parse("unix:" + path), ListenOptions{.backlog = 1});
  ASSERT_TRUE(listener) << listener.error().message();
  // backlog 1 admits two unaccepted connections (the kernel allows backlog + 1).
  auto first = connect(*Address::parse("unix:" + path), Deadline::after(5s));
  auto second = connect(*Address::parse("unix:" + path), Deadline::after(5s));
  ASSERT_TRUE(first && second);

  auto sockets = dump_unix_sockets();
  ASSERT_TRUE(sockets) << sockets.error().message();
  const UnixSocketInfo* found = with_inode(*sockets, inode_of(listener->native_handle()));
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->name, path);
  EXPECT_EQ(found->state, SocketState::listen);
  EXPECT_EQ(found->type, SOCK_STREAM);
  ASSERT_TRUE(found->has_queue_lengths);
  EXPECT_EQ(found->rqueue, 2U);
  EXPECT_EQ(found->wqueue, 1U);
  EXPECT_EQ(found->pending_inodes.size(), 2U);
  EXPECT_TRUE(has_kind(trouble_of(*found), TroubleKind::accept_queue_full));

  // The listener names the clients waiting in its queue (their own inodes).
  for (const auto* client : {&*first, &*second}) {
    const std::uint64_t inode = inode_of(client->native_handle());
    EXPECT_NE(std::ranges::find(found->pending_inodes, inode), found->pending_inodes.end());
  }
}

TEST(SockDiag, AbstractNameAndSocketPairPeersAreReported) {
  const std::string name = test::unique_abstract_name();
  auto listener = listen(*Address::parse("unix:@" + name));
  ASSERT_TRUE(listener);
  auto pair = stream_socket_pair();
  ASSERT_TRUE(pair);
  auto sockets = dump_unix_sockets();
  ASSERT_TRUE(sockets);
  const UnixSocketInfo* abstract = with_inode(*sockets, inode_of(listener->native_handle()));
  ASSERT_NE(abstract, nullptr);
  EXPECT_TRUE(abstract->is_abstract());
  EXPECT_EQ(abstract->display_name(), "@" + name);
  EXPECT_TRUE(trouble_of(*abstract).empty());  // listening, nobody waiting

  const UnixSocketInfo* left = with_inode(*sockets, inode_of(pair->first.native_handle()));
  ASSERT_NE(left, nullptr);
  EXPECT_EQ(left->peer_inode, inode_of(pair->second.native_handle()));
  EXPECT_EQ(left->state, SocketState::established);
}

TEST(SockDiag, TcpConnectionWhosePeerClosedIsCloseWaitWithTcpInfo) {
  auto listener = listen(*Address::parse("tcp://127.0.0.1:0"));
  ASSERT_TRUE(listener);
  auto client = connect(*listener->local_address(), Deadline::after(5s));
  ASSERT_TRUE(client);
  auto server_side = listener->accept(Deadline::after(5s));
  ASSERT_TRUE(server_side);
  client->close();
  // EOF on the server side proves the FIN arrived: the socket is now CLOSE-WAIT.
  std::byte byte{};
  auto eof = server_side->recv_some(std::span(&byte, 1), Deadline::after(5s));
  ASSERT_TRUE(eof && *eof == 0);

  auto sockets = dump_inet_sockets(IPPROTO_TCP);
  ASSERT_TRUE(sockets) << sockets.error().message();
  const InetSocketInfo* found = with_inode(*sockets, inode_of(server_side->native_handle()));
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->state, SocketState::close_wait);
  EXPECT_EQ(found->local.to_string(), listener->local_address()->to_string().substr(6));  // after "tcp://"
  EXPECT_EQ(found->uid, ::getuid());
  ASSERT_TRUE(found->tcp);
  EXPECT_GT(found->tcp->snd_cwnd, 0U);
  EXPECT_TRUE(has_kind(trouble_of(*found), TroubleKind::close_wait));

  const InetSocketInfo* listening = with_inode(*sockets, inode_of(listener->native_handle()));
  ASSERT_NE(listening, nullptr);
  EXPECT_EQ(listening->state, SocketState::listen);
  EXPECT_TRUE(trouble_of(*listening).empty());  // loopback, queue empty
}

TEST(SockDiag, WildcardListenerAndUdpDropsAreReported) {
  auto wildcard = listen(*Address::parse("tcp://0.0.0.0:0"));
  ASSERT_TRUE(wildcard);
  auto tcp = dump_inet_sockets(IPPROTO_TCP);
  ASSERT_TRUE(tcp);
  const InetSocketInfo* found = with_inode(*tcp, inode_of(wildcard->native_handle()));
  ASSERT_NE(found, nullptr);
  EXPECT_TRUE(found->local.is_wildcard());
  EXPECT_TRUE(found->local.to_string().starts_with("*:"));
  EXPECT_TRUE(has_kind(trouble_of(*found), TroubleKind::wildcard_bind));

  auto udp_socket = DatagramSocket::bind(*Address::parse("udp://127.0.0.1:0"));
  ASSERT_TRUE(udp_socket) << udp_socket.error().message();
  auto udp = dump_inet_sockets(IPPROTO_UDP);
  ASSERT_TRUE(udp);
  const InetSocketInfo* bound = with_inode(*udp, inode_of(udp_socket->native_handle()));
  ASSERT_NE(bound, nullptr);
  EXPECT_EQ(bound->state, SocketState::close);
  ASSERT_TRUE(bound->drops);  // every kernel sock_diag runs on has SK_MEMINFO_DROPS (3.x)
  EXPECT_EQ(*bound->drops, 0U);
  EXPECT_FALSE(bound->local.is_wildcard());
  EXPECT_TRUE(trouble_of(*bound).empty());
}

TEST(ProcessScan, MapsThisProcessesSocketToItsPidAndDescriptor) {
  auto listener = listen(*Address::parse("tcp://127.0.0.1:0"));
  ASSERT_TRUE(listener);
  const ProcessScan scan = scan_processes();
  const auto owners = scan.owners.find(inode_of(listener->native_handle()));
  ASSERT_NE(owners, scan.owners.end());
  ASSERT_EQ(owners->second.size(), 1U);
  const ProcessInfo& me = scan.processes[owners->second[0].process];
  EXPECT_EQ(me.pid, ::getpid());
  EXPECT_EQ(owners->second[0].fd, listener->native_handle());
  EXPECT_FALSE(me.command.empty());
  EXPECT_GT(me.open_fds, 2U);
  EXPECT_TRUE(me.fd_limit);
  EXPECT_EQ(scan.find(::getpid()), &me);
}

// A /proc of our own making: the cases a live one cannot be made to show on demand.
void write_file(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

TEST(ProcessScan, ReadsAFakeProcTreeAndSkipsWhatIsNotAProcess) {
  test::TempDir dir;
  const fs::path root = dir.path();
  fs::create_directories(root / "123" / "fd");
  fs::create_symlink("socket:[999]", root / "123" / "fd" / "3");
  fs::create_symlink("/dev/null", root / "123" / "fd" / "4");
  fs::create_symlink("socket:[12", root / "123" / "fd" / "5");  // not a socket link
  write_file(root / "123" / "comm", "fake\n");
  write_file(root / "123" / "limits",
             "Limit                     Soft Limit           Hard Limit           Units\n"
             "Max open files            4                    4096                 files\n");
  fs::create_directories(root / "456");  // exited between the listing and the walk: no fd dir
  fs::create_directories(root / "sys" / "fd");  // not a pid
  const ProcessScan scan = scan_processes(root.string());
  ASSERT_EQ(scan.processes.size(), 1U);
  const ProcessInfo& fake = scan.processes[0];
  EXPECT_EQ(fake.pid, 123);
  EXPECT_EQ(fake.command, "fake");
  EXPECT_EQ(fake.open_fds, 3U);
  EXPECT_EQ(fake.fd_limit, 4U);
  ASSERT_EQ(scan.owners.count(999), 1U);
  EXPECT_EQ(scan.owners.at(999)[0].fd, 3);
  EXPECT_EQ(scan.owners.size(), 1U);
  EXPECT_EQ(scan.unreadable, 0U);
  EXPECT_FALSE(scan.truncated);
  EXPECT_FALSE(trouble_of(fake));  // 3 of 4 is 75%, under the 80% mark
}

TEST(ProcessScan, LimitsStopTheWalkAndSaySo) {
  test::TempDir dir;
  const fs::path root = dir.path();
  for (const char* pid : {"1", "2", "3"}) {
    fs::create_directories(root / pid / "fd");
    for (const char* fd : {"0", "1", "2"}) fs::create_symlink("/dev/null", root / pid / "fd" / fd);
  }
  const ProcessScan few = scan_processes(root.string(), {.max_processes = 2, .max_fds_per_process = 100});
  EXPECT_TRUE(few.truncated);
  EXPECT_EQ(few.processes.size(), 2U);
  const ProcessScan short_walk =
      scan_processes(root.string(), {.max_processes = 10, .max_fds_per_process = 2});
  EXPECT_TRUE(short_walk.truncated);
  ASSERT_EQ(short_walk.processes.size(), 3U);
  EXPECT_EQ(short_walk.processes[0].open_fds, 2U);
}

TEST(Trouble, FdLimitIsFlaggedFromEightyPercent) {
  EXPECT_TRUE(trouble_of(ProcessInfo{1, "a", 80, 100}));
  EXPECT_FALSE(trouble_of(ProcessInfo{1, "a", 79, 100}));
  EXPECT_FALSE(trouble_of(ProcessInfo{1, "a", 5000, std::nullopt}));  // unlimited or unreadable
  const auto trouble = trouble_of(ProcessInfo{7, "srv", 900, 1000});
  ASSERT_TRUE(trouble);
  EXPECT_EQ(trouble->kind, TroubleKind::near_fd_limit);
  EXPECT_EQ(trouble->pid, 7);
  EXPECT_NE(trouble->message.find("900 of its 1000"), std::string::npos) << trouble->message;
}

}  // namespace
}  // namespace sockit::diag
