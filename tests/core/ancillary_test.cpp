// Ancillary data: descriptors that cross a fork() and work, truncated control
// data that leaks nothing, and credentials that name the process at the other end.
#include "sockit/ancillary.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "sockit/sockit.hpp"
#include "support/bytes.hpp"
#include "support/child.hpp"
#include "support/fd_count.hpp"
#include "support/temp_dir.hpp"

namespace sockit {
namespace {

using namespace std::chrono_literals;
using test::bytes_of;
using test::string_of;

struct Pipe {
  Fd read;
  Fd write;
};

Pipe make_pipe() {
  int fds[2] = {-1, -1};
  if (::pipe2(fds, O_CLOEXEC) != 0) return {};
  return {Fd(fds[0]), Fd(fds[1])};
}

bool has_cloexec(int fd) { return (::fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0; }

// Reads up to `size` bytes from a raw descriptor (the pipe and file here).
std::string read_some(int fd, std::size_t size, off_t offset = -1) {
  std::string out(size, '\0');
  const ssize_t n = offset < 0 ? ::read(fd, out.data(), size) : ::pread(fd, out.data(), size, offset);
  out.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  return out;
}

TEST(Ancillary, ThreeDescriptorsCrossAForkAndWorkThere) {
  auto control = stream_socket_pair();
  ASSERT_TRUE(control) << control.error().message();
  auto& [parent_end, child_end] = *control;

  // The child is forked before the descriptors exist, so the only way it can hold
  // them is through SCM_RIGHTS: nothing is inherited by accident.
  test::Child child([&]() -> int {
    parent_end.close();
    std::array<std::byte, 16> buf{};
    auto got = recv_fds(child_end, buf, 3, 10s);
    if (!got) return 1;
    if (string_of(std::span(buf).first(got->size)) != "fds") return 2;
    if (got->fds.size() != 3) return 3;
    for (const Fd& fd : got->fds) {
      if (!has_cloexec(fd.get())) return 4;  // MSG_CMSG_CLOEXEC
    }
    if (read_some(got->fds[0].get(), 64) != "pipe-data") return 5;
    if (read_some(got->fds[1].get(), 64, 0) != "file-content") return 6;
    const std::string reply = "via-socket";
    if (::write(got->fds[2].get(), reply.data(), reply.size()) != static_cast<ssize_t>(reply.size()))
      return 7;
    if (!child_end.send_all("ok", 10s)) return 8;
    return 0;
  });
  ASSERT_GT(child.pid(), 0);
  child_end.close();

  test::TempDir dir;
  const std::string file_path = dir.file("f.txt");
  {
    Fd writer(::open(file_path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
    ASSERT_TRUE(writer.valid());
    ASSERT_EQ(::write(writer.get(), "file-content", 12), 12);
  }
  Pipe pipe = make_pipe();
  ASSERT_TRUE(pipe.read.valid());
  ASSERT_EQ(::write(pipe.write.get(), "pipe-data", 9), 9);
  Fd file(::open(file_path.c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(file.valid());
  auto probe = stream_socket_pair();
  ASSERT_TRUE(probe) << probe.error().message();

  const std::array<int, 3> fds{pipe.read.get(), file.get(), probe->second.native_handle()};
  auto sent = send_fds(parent_end, bytes_of("fds"), fds, 10s);
  ASSERT_TRUE(sent) << sent.error().message();
  EXPECT_EQ(*sent, 3u);
  // The child now holds its own copies; ours can go.
  pipe.read.reset();
  file.reset();
  probe->second.close();

  std::array<std::byte, 10> through_socket{};
  auto r = probe->first.recv_exact(through_socket, 10s);
  EXPECT_TRUE(r) << r.error().message();
  EXPECT_EQ(string_of(through_socket), "via-socket");
  std::array<std::byte, 2> report{};
  auto ok = parent_end.recv_exact(report, 10s);
  EXPECT_TRUE(ok) << ok.error().message();
  EXPECT_EQ(child.wait(10s), 0) << "the child's exit status names the step that failed";
}

TEST(Ancillary, MoreDescriptorsThanAskedForIsControlTruncatedAndLeaksNothing) {
  auto pair = stream_socket_pair();
  ASSERT_TRUE(pair) << pair.error().message();
  Pipe pipe = make_pipe();
  ASSERT_TRUE(pipe.read.valid());
  const std::array<int, 3> fds{pipe.read.get(), pipe.write.get(), pipe.read.get()};
  const int before = test::open_fd_count();

  ASSERT_TRUE(send_fds(pair->first, bytes_of("x"), fds, 5s));
  std::array<std::byte, 4> buf{};
  auto got = recv_fds(pair->second, buf, 1, 5s);
  ASSERT_FALSE(got) << "got " << got->fds.size() << " descriptors with max_fds = 1";
  EXPECT_EQ(got.error(), errc::control_truncated);
  EXPECT_EQ(test::open_fd_count(), before) << test::describe_open_fds();
}

TEST(Ancillary, ACutControlBufferIsControlTruncatedAndLeaksNothing) {
  // Far more than the buffer for max_fds = 1 can hold, so the kernel itself cuts
  // the list (MSG_CTRUNC) after installing the ones that fit.
  auto pair = datagram_socket_pair();
  ASSERT_TRUE(pair) << pair.error().message();
  Pipe pipe = make_pipe();
  ASSERT_TRUE(pipe.read.valid());
  const std::vector<int> fds(40, pipe.read.get());
  const int before = test::open_fd_count();

  ASSERT_TRUE(send_fds(pair->first, bytes_of("x"), fds, 5s));
  std::array<std::byte, 4> buf{};
  auto got = recv_fds(pair->second, buf, 1, 5s);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error(), errc::control_truncated);
  EXPECT_EQ(test::open_fd_count(), before) << test::describe_open_fds();
}

TEST(Ancillary, NoRoomLeftAfterCredentialsIsControlTruncated) {
  // With SO_PASSCRED the credentials cmsg comes first and fills the buffer sized
  // for max_fds = 0, so the kernel drops the descriptor and sets MSG_CTRUNC: no
  // descriptor arrives, and only the flag tells the caller something was lost.
  auto pair = datagram_socket_pair();
  ASSERT_TRUE(pair) << pair.error().message();
  ASSERT_TRUE(pair->second.set_pass_credentials(true));
  Pipe pipe = make_pipe();
  ASSERT_TRUE(pipe.read.valid());
  const std::array<int, 1> fds{pipe.read.get()};
  const int before = test::open_fd_count();

  ASSERT_TRUE(send_fds(pair->first, bytes_of("x"), fds, 5s));
  std::array<std::byte, 4> buf{};
  auto got = recv_fds(pair->second, buf, 0, 5s);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error(), errc::control_truncated);
  EXPECT_EQ(test::open_fd_count(), before) << test::describe_open_fds();
}

TEST(Ancillary, ReceivedDescriptorsAreCloseOnExecAndOwned) {
  auto pair = seqpacket_socket_pair();
  ASSERT_TRUE(pair) << pair.error().message();
  Pipe pipe = make_pipe();
  ASSERT_TRUE(pipe.read.valid());
  const int before = test::open_fd_count();
  {
    const std::array<int, 1> fds{pipe.write.get()};
    ASSERT_TRUE(send_fds(pair->first, bytes_of("w"), fds, 5s));
    std::array<std::byte, 4> buf{};
    auto got = recv_fds(pair->second, buf, kMaxFdsPerMessage, 5s);
    ASSERT_TRUE(got) << got.error().message();
    EXPECT_EQ(got->size, 1u);
    ASSERT_EQ(got->fds.size(), 1u);
    EXPECT_FALSE(got->credentials.has_value());
    EXPECT_TRUE(has_cloexec(got->fds[0].get()));
    ASSERT_EQ(::write(got->fds[0].get(), "z", 1), 1);  // it is the pipe's write end
    EXPECT_EQ(read_some(pipe.read.get(), 4), "z");
    EXPECT_EQ(test::open_fd_count(), before + 1);
  }
  EXPECT_EQ(test::open_fd_count(), before) << "the received Fd closes itself";
}

TEST(Ancillary, SendFdsRefusesWhatTheKernelWouldDropOrReject) {
  auto pair = stream_socket_pair();
  ASSERT_TRUE(pair) << pair.error().message();
  const int fd = pair->first.native_handle();
  auto none = send_fds(pair->first, bytes_of("x"), std::span<const int>{}, 5s);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error(), errc::invalid_argument);
  const std::vector<int> too_many(kMaxFdsPerMessage + 1, fd);
  auto many = send_fds(pair->first, bytes_of("x"), too_many, 5s);
  ASSERT_FALSE(many);
  EXPECT_EQ(many.error(), errc::invalid_argument);
  const std::array<int, 1> one{fd};
  auto no_data = send_fds(pair->first, std::span<const std::byte>{}, one, 5s);
  ASSERT_FALSE(no_data);
  EXPECT_EQ(no_data.error(), errc::invalid_argument);
}

TEST(Ancillary, RecvFdsTimesOutByTheDeadline) {
  auto pair = stream_socket_pair();
  ASSERT_TRUE(pair) << pair.error().message();
  std::array<std::byte, 4> buf{};
  const auto start = std::chrono::steady_clock::now();
  auto got = recv_fds(pair->second, buf, 1, 100ms);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error(), errc::timed_out);
  EXPECT_GE(took, 95ms);
  EXPECT_LT(took, 2s);
}

TEST(Ancillary, PeerCredentialsOfASocketPairNameThisProcess) {
  auto pair = stream_socket_pair();
  ASSERT_TRUE(pair) << pair.error().message();
  auto creds = peer_credentials(pair->first);
  ASSERT_TRUE(creds) << creds.error().message();
  EXPECT_EQ(*creds, (Credentials{::getpid(), ::getuid(), ::getgid()}));
}

TEST(Ancillary, PeerCredentialsNameTheProcessAcrossAFork) {
  // socketpair() records its creator on both ends, so a fork would not change
  // what they report: the child must make its own connection for this to test anything.
  auto address = Address::parse("unix:@" + test::unique_abstract_name());
  ASSERT_TRUE(address);
  auto listener = listen(*address);
  ASSERT_TRUE(listener) << listener.error().message();
  const pid_t parent_pid = ::getpid();

  test::Child child([&]() -> int {
    listener->close();
    auto conn = connect(*address, 10s);
    if (!conn) return 1;
    auto creds = peer_credentials(*conn);
    if (!creds) return 2;
    if (creds->pid != parent_pid || creds->uid != ::getuid() || creds->gid != ::getgid()) return 3;
    std::array<std::byte, 1> done{};
    // Stay connected until the parent has looked.
    if (auto n = conn->recv_some(done, 10s); !n) return 4;
    return 0;
  });
  ASSERT_GT(child.pid(), 0);

  auto server = listener->accept(10s);
  ASSERT_TRUE(server) << server.error().message();
  auto creds = peer_credentials(*server);
  ASSERT_TRUE(creds) << creds.error().message();
  EXPECT_EQ(creds->pid, child.pid());
  EXPECT_EQ(creds->uid, ::getuid());
  EXPECT_EQ(creds->gid, ::getgid());
  EXPECT_TRUE(server->send_all("k", 5s));
  EXPECT_EQ(child.wait(10s), 0) << "the child's exit status names the step that failed";
}

TEST(Ancillary, ScmCredentialsArriveWithPassCredentials) {
  auto pair = stream_socket_pair();
  ASSERT_TRUE(pair) << pair.error().message();
  auto& [parent_end, child_end] = *pair;
  ASSERT_TRUE(parent_end.set_pass_credentials(true));

  test::Child child([&]() -> int {
    parent_end.close();
    auto sent = send_credentials(child_end, bytes_of("c"), 10s);
    return sent && *sent == 1 ? 0 : 1;
  });
  ASSERT_GT(child.pid(), 0);
  child_end.close();

  std::array<std::byte, 4> buf{};
  auto got = recv_fds(parent_end, buf, 0, 10s);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(got->size, 1u);
  EXPECT_TRUE(got->fds.empty());
  ASSERT_TRUE(got->credentials.has_value());
  EXPECT_EQ(*got->credentials, (Credentials{child.pid(), ::getuid(), ::getgid()}));
  EXPECT_EQ(child.wait(10s), 0);
}

TEST(Ancillary, RecvFdsSeesAPeerCloseAsZeroBytes) {
  auto pair = stream_socket_pair();
  ASSERT_TRUE(pair) << pair.error().message();
  pair->first.close();
  std::array<std::byte, 4> buf{};
  auto got = recv_fds(pair->second, buf, 4, 5s);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(got->size, 0u);
  EXPECT_TRUE(got->fds.empty());
}

}  // namespace
}  // namespace sockit
