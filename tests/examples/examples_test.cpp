// Runs the programs in examples/ as child processes and checks what they print,
// how they exit, and (for the servers) that they really serve. Every child runs in
// its own process group with stdout/stderr on pipes; every wait has a timeout, on
// which the whole group is killed and the child reaped, so a hung example fails
// its test instead of hanging the suite.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "sockit/event/event_loop.hpp"
#include "sockit/sockit.hpp"
#include "support/bytes.hpp"
#include "support/peer_closed.hpp"
#include "support/temp_dir.hpp"

namespace {

using namespace std::chrono_literals;
using sockit::test::bytes_of;
using sockit::test::random_bytes;
using sockit::test::string_of;

// Where the example binaries are: the examples/ directory beside this binary's
// tests/ directory in the build tree, or $SOCKIT_EXAMPLES_DIR when set by hand.
std::string examples_dir() {
  if (const char* dir = std::getenv("SOCKIT_EXAMPLES_DIR"); dir != nullptr && *dir != '\0') return dir;
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : (self.parent_path().parent_path() / "examples").string();
}

struct Outcome {
  int status = -1;  // exit code; -signal if killed by one; kTimedOut if we had to kill it
  std::string out;  // everything it wrote on stdout
  std::string err;  // ... and on stderr
};
constexpr int kTimedOut = -1000;

struct SpawnOptions {
  // Occupies every descriptor from `free_low_fds + 3` to FD_SETSIZE-1 in the child, so
  // the program's first `free_low_fds` descriptors land below FD_SETSIZE and any
  // later one at FD_SETSIZE or above. 0: leave the descriptor table alone.
  int free_low_fds = 0;
};

// One example program running as a child process.
class Process {
 public:
  Process(const std::string& program, const std::vector<std::string>& args, SpawnOptions options = {}) {
    const std::string path = examples_dir() + "/" + program;
    std::array<int, 2> out{-1, -1};
    std::array<int, 2> err{-1, -1};
    if (::pipe2(out.data(), O_CLOEXEC) != 0 || ::pipe2(err.data(), O_CLOEXEC) != 0) {
      ADD_FAILURE() << "pipe2: " << std::strerror(errno);
      return;
    }
    out_fd_ = sockit::Fd(out[0]);
    err_fd_ = sockit::Fd(err[0]);
    sockit::Fd out_w(out[1]);
    sockit::Fd err_w(err[1]);
    sockit::Fd null_fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));

    // Everything the child needs is prepared before fork: after it, only
    // async-signal-safe calls until exec.
    std::vector<std::string> argv_strings{path};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& s : argv_strings) argv.push_back(s.data());
    argv.push_back(nullptr);

    pid_ = ::fork();
    if (pid_ < 0) {
      ADD_FAILURE() << "fork: " << std::strerror(errno);
      return;
    }
    if (pid_ == 0) {
      ::setpgid(0, 0);
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      ::dup2(null_fd.get(), 0);
      ::dup2(out_w.get(), 1);
      ::dup2(err_w.get(), 2);
      if (options.free_low_fds > 0) {
        rlimit limit{};
        ::getrlimit(RLIMIT_NOFILE, &limit);
        if (limit.rlim_cur <= FD_SETSIZE + 16) {
          limit.rlim_cur = FD_SETSIZE + 16;
          ::setrlimit(RLIMIT_NOFILE, &limit);
        }
        // dup2 clears close-on-exec, so the copies survive exec; the original needs fcntl.
        ::fcntl(null_fd.get(), F_SETFD, 0);
        for (int fd = 3; fd < FD_SETSIZE; ++fd) {
          if (fd != null_fd.get()) ::dup2(null_fd.get(), fd);
        }
        for (int fd = 3; fd < 3 + options.free_low_fds; ++fd) ::close(fd);
      }
      ::execv(path.c_str(), argv.data());
      ::_exit(127);
    }
    ::setpgid(pid_, pid_);  // also here, so the group exists before we might kill it
  }

  ~Process() {
    if (pid_ > 0) {
      ::kill(-pid_, SIGKILL);  // the example and anything it forked
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  [[nodiscard]] pid_t pid() const { return pid_; }
  void signal(int signal) const {
    if (pid_ > 0) ::kill(pid_, signal);
  }

  // The next line of stdout (without '\n'), or nullopt if none arrives in time.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (const auto newline = out_.find('\n', line_start_); newline != std::string::npos) {
        std::string line = out_.substr(line_start_, newline - line_start_);
        line_start_ = newline + 1;
        return line;
      }
      if (!pump(until)) return std::nullopt;
    }
  }

  // Waits for the program to exit and for its output to end. On timeout the
  // process group is killed, the child reaped, and the status is kTimedOut.
  Outcome finish(std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    Outcome outcome;
    while (pid_ > 0) {
      int status = 0;
      const pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        outcome.status = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
        break;
      }
      if (std::chrono::steady_clock::now() >= until) {
        ::kill(-pid_, SIGKILL);
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
        outcome.status = kTimedOut;
        break;
      }
      if (!pump(until, 5ms) && !out_fd_ && !err_fd_) std::this_thread::sleep_for(2ms);
    }
    while ((out_fd_ || err_fd_) && pump(until)) {
    }
    outcome.out = out_;
    outcome.err = err_;
    return outcome;
  }

 private:
  // Reads whatever stdout/stderr have within `slice` (and before `until`). Returns
  // false when nothing more can come (both at end) or the time is up.
  bool pump(std::chrono::steady_clock::time_point until, std::chrono::milliseconds slice = 1h) {
    if (!out_fd_ && !err_fd_) return false;
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (left <= 0ms) return false;
    std::array<pollfd, 2> fds{pollfd{out_fd_.get(), POLLIN, 0}, pollfd{err_fd_.get(), POLLIN, 0}};
    const int ready = ::poll(fds.data(), fds.size(), static_cast<int>(std::min(left, slice).count()));
    if (ready <= 0) return ready < 0 && errno == EINTR;
    drain(out_fd_, fds[0].revents, out_);
    drain(err_fd_, fds[1].revents, err_);
    return true;
  }

  static void drain(sockit::Fd& fd, short revents, std::string& into) {
    if (!fd || revents == 0) return;
    std::array<char, 4096> chunk{};
    const ssize_t n = ::read(fd.get(), chunk.data(), chunk.size());
    if (n > 0) {
      into.append(chunk.data(), static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      fd.reset();  // end of output
    }
  }

  pid_t pid_ = -1;
  sockit::Fd out_fd_;
  sockit::Fd err_fd_;
  std::string out_;
  std::string err_;
  std::size_t line_start_ = 0;
};

// Reads the "listening on ADDR" line a server prints once it accepts connections.
std::optional<sockit::Address> listening_address(Process& server) {
  const auto line = server.read_line(10s);
  const std::string prefix = "listening on ";
  if (!line || !line->starts_with(prefix)) {
    ADD_FAILURE() << "no 'listening on' line from the server; got: " << line.value_or("(nothing)");
    return std::nullopt;
  }
  auto address = sockit::Address::parse(line->substr(prefix.size()));
  if (!address) {
    ADD_FAILURE() << "unparsable address in '" << *line << "': " << address.error().message();
    return std::nullopt;
  }
  return *address;
}

// Runs unix_echo_server and unix_client on `address` and checks both ends of the exchange.
void expect_unix_exchange(const std::string& address, const std::string& greeting) {
  Process server("unix_echo_server", {address});
  const auto bound = listening_address(server);
  ASSERT_TRUE(bound.has_value());
  EXPECT_EQ(bound->to_string(), address);

  Process client("unix_client", {address, greeting});
  const Outcome c = client.finish(15s);
  EXPECT_EQ(c.status, 0) << c.err;
  EXPECT_EQ(c.out, "reply: hello from the server (" + std::to_string(greeting.size()) + " bytes received)\n");
  EXPECT_EQ(c.err, "");

  const Outcome s = server.finish(15s);
  EXPECT_EQ(s.status, 0) << s.err;
  EXPECT_EQ(s.out, "listening on " + address + "\nreceived: " + greeting + "\n");
  EXPECT_EQ(s.err, "");
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

// --- unix_echo_server + unix_client ------------------------------------------

TEST(Examples, UnixServerAndClientExchangeTheGreetingOverAFreshPath) {
  sockit::test::TempDir dir;
  const std::string path = dir.file("echo.sock");
  expect_unix_exchange("unix:" + path, "hello over a path " + std::to_string(::getpid()));
  EXPECT_FALSE(exists(path)) << "the server left its socket file behind";
}

TEST(Examples, UnixServerAndClientExchangeTheGreetingInTheAbstractNamespace) {
  expect_unix_exchange("unix:@" + sockit::test::unique_abstract_name(), "hello in the abstract namespace");
}

TEST(Examples, UnixServerReplacesAStaleSocketFileLeftByADeadServer) {
  sockit::test::TempDir dir;
  const std::string path = dir.file("stale.sock");
  {  // what a crashed server leaves: a bound socket file and nobody listening on it
    sockit::Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    ASSERT_TRUE(fd.valid());
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    ASSERT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << std::strerror(errno);
  }
  ASSERT_TRUE(exists(path));
  expect_unix_exchange("unix:" + path, "hello after a crash");
}

TEST(Examples, UnixServerRefusesAPathALiveServerOwnsAndLeavesThatServerWorking) {
  sockit::test::TempDir dir;
  const std::string address = "unix:" + dir.file("busy.sock");
  Process first("unix_echo_server", {address});
  ASSERT_TRUE(listening_address(first).has_value());

  Process second("unix_echo_server", {address});
  const Outcome s2 = second.finish(15s);
  EXPECT_EQ(s2.status, 1);
  EXPECT_NE(s2.err.find("cannot listen on " + address), std::string::npos) << s2.err;

  // The second server's liveness probe reached the first as an empty connection;
  // the first must still be waiting for, and serve, a real client.
  Process client("unix_client", {address, "still there?"});
  const Outcome c = client.finish(15s);
  EXPECT_EQ(c.status, 0) << c.err;
  EXPECT_EQ(c.out, "reply: hello from the server (12 bytes received)\n");
  const Outcome s1 = first.finish(15s);
  EXPECT_EQ(s1.status, 0) << s1.err;
}

TEST(Examples, UnixClientReportsAMissingServerWithTheSystemsMessage) {
  sockit::test::TempDir dir;
  Process client("unix_client", {"unix:" + dir.file("nobody.sock")});
  const Outcome c = client.finish(15s);
  EXPECT_EQ(c.status, 1);
  EXPECT_EQ(c.out, "");
  EXPECT_NE(c.err.find(std::make_error_code(std::errc::no_such_file_or_directory).message()),
            std::string::npos)
      << c.err;
}

TEST(Examples, UnixClientRejectsAMalformedAddressWithUsageStatus) {
  Process client("unix_client", {"no-scheme-here"});
  const Outcome c = client.finish(15s);
  EXPECT_EQ(c.status, 2);
  EXPECT_NE(c.err.find("bad address 'no-scheme-here'"), std::string::npos) << c.err;
}

// --- socketpair_fork -----------------------------------------------------------

TEST(Examples, SocketpairForkPrintsBothMessagesAndExitsZero) {
  Process program("socketpair_fork", {});
  const Outcome o = program.finish(15s);
  EXPECT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, "child received: hello from the parent\nparent received: hello from the child\n");
  EXPECT_EQ(o.err, "");
}

// --- quick_start (the README example) ---------------------------------------------

TEST(Examples, QuickStartExchangesHelloOverAUnixPathAndTcp) {
  sockit::test::TempDir dir;
  for (const std::string& address : {"unix:" + dir.file("run/api.sock"), std::string("tcp://:0")}) {
    SCOPED_TRACE(address);
    Process program("quick_start", {address});
    const Outcome o = program.finish(15s);
    EXPECT_EQ(o.status, 0) << o.err;
    EXPECT_TRUE(o.out.starts_with("received \"hello\" over ")) << o.out;
  }
  EXPECT_FALSE(std::filesystem::exists(dir.file("run/api.sock"))) << "the listener removes its file";
}

// --- the guide's examples (docs/guide/) -------------------------------------------

TEST(Examples, FramedEchoServerEchoesThreeLinesOnEveryBackend) {
  for (const std::string& backend : sockit::event::EventLoop::available_backends()) {
    SCOPED_TRACE(backend);
    Process program("framed_echo_server",
                    {"unix:@sockit-example-" + backend + "-" + std::to_string(::getpid()), backend});
    const Outcome o = program.finish(15s);
    EXPECT_EQ(o.status, 0) << o.err;
    EXPECT_NE(o.out.find(" with " + backend + "\n"), std::string::npos) << o.out;
    EXPECT_NE(o.out.find("echoed: one\nechoed: two\nechoed: three\n"), std::string::npos) << o.out;
    EXPECT_NE(o.out.find("server counted 1 connection(s), 3 message(s) in, 3 out\n"), std::string::npos) << o.out;
  }
}

TEST(Examples, PassDescriptorLetsTheChildReadAFileItHasNoNameFor) {
  Process program("pass_descriptor", {});
  const Outcome o = program.finish(15s);
  EXPECT_EQ(o.status, 0) << o.err;
  EXPECT_NE(o.out.find("the file says: written by the parent before the fd was passed\n"), std::string::npos)
      << o.out;
  EXPECT_NE(o.out.find("parent: child exited with 0\n"), std::string::npos) << o.out;
}

TEST(Examples, ShmPingPongCompletesItsRoundTripsAndTheChildSeesTheEnd) {
  Process program("shm_ping_pong", {"500"});
  const Outcome o = program.finish(15s);
  EXPECT_EQ(o.status, 0) << o.err;
  EXPECT_TRUE(o.out.starts_with("500 round trips of 64 bytes through shared memory")) << o.out;
  EXPECT_NE(o.out.find("child saw the end of the stream and exited with 0\n"), std::string::npos) << o.out;
}

// --- select_echo_server ------------------------------------------------------

TEST(Examples, SelectServerEchoesForThreeConcurrentClientsAndExitsAfterTheyDisconnect) {
  Process server("select_echo_server", {"--max-clients", "3"});
  const auto address = listening_address(server);
  ASSERT_TRUE(address.has_value());
  EXPECT_EQ(address->transport(), sockit::Transport::tcp);
  EXPECT_NE(address->port(), 0);

  // All three are connected before any of them sends, so the server holds them at once.
  constexpr int kClients = 3;
  std::vector<sockit::StreamSocket> sockets;
  for (int i = 0; i < kClients; ++i) {
    auto socket = sockit::connect(*address, 5s);
    ASSERT_TRUE(socket.has_value()) << socket.error().message();
    sockets.push_back(std::move(*socket));
  }
  const std::array<std::size_t, kClients> sizes{1000, 20'000, 70'000};
  std::array<std::string, kClients> failures;
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      const auto data = random_bytes(sizes[i], 1000 + i);  // different bytes and sizes per client
      const sockit::Deadline deadline = sockit::Deadline::after(15s);
      if (auto s = sockets[i].send_all(data, deadline); !s) {
        failures[i] = "send: " + s.error().message();
        return;
      }
      std::vector<std::byte> echo(data.size());
      if (auto r = sockets[i].recv_exact(echo, deadline); !r) {
        failures[i] = "receive: " + r.error().message();
        return;
      }
      if (echo != data) failures[i] = "the echo differs from what was sent";
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kClients; ++i) EXPECT_EQ(failures[i], "") << "client " << i;
  sockets.clear();  // the three disconnect

  const Outcome s = server.finish(15s);
  EXPECT_EQ(s.status, 0) << s.err;
  EXPECT_NE(s.out.find("3 client(s) served"), std::string::npos) << s.out;
  EXPECT_EQ(s.err, "");
}

TEST(Examples, SelectServerKeepsServingOthersWhileOneClientIsNotReading) {
  Process server("select_echo_server", {"--max-clients", "2"});
  const auto address = listening_address(server);
  ASSERT_TRUE(address.has_value());

  auto slow = sockit::connect(*address, 5s);
  ASSERT_TRUE(slow.has_value()) << slow.error().message();
  // Far more than the socket buffers hold: the server's pending output for `slow`
  // reaches its high-water mark and it stops reading from it.
  const auto big = random_bytes(8 * 1024 * 1024, 7);
  std::string sender_failure;
  std::thread sender([&] {
    if (auto s = slow->send_all(big, 30s); !s) sender_failure = s.error().message();
  });
  std::this_thread::sleep_for(200ms);

  // Meanwhile another client gets its echo promptly. (No ASSERT here: the sender
  // thread must be joined before the test returns.)
  const std::string quick_failure = [&]() -> std::string {
    auto quick = sockit::connect(*address, 5s);
    if (!quick) return "connect: " + quick.error().message();
    const std::string ping = "are you still answering?";
    if (auto s = quick->send_all(ping, 5s); !s) return "send: " + s.error().message();
    std::string echo(ping.size(), '\0');
    if (auto r = quick->recv_exact(std::as_writable_bytes(std::span(echo)), 5s); !r) {
      return "receive: " + r.error().message();
    }
    return echo == ping ? "" : "wrong echo: " + echo;
  }();
  EXPECT_EQ(quick_failure, "") << "a client that does not read stalled the others";

  std::vector<std::byte> echo(big.size());
  const auto r = slow->recv_exact(echo, 30s);
  if (!r) (void)slow->shutdown(sockit::ShutdownHow::both);  // unblock the sender before joining
  sender.join();
  EXPECT_EQ(sender_failure, "");
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_TRUE(echo == big) << "the large echo came back altered";
  slow->close();

  const Outcome s = server.finish(15s);
  EXPECT_EQ(s.status, 0) << s.err;
}

TEST(Examples, SelectServerExitsCleanlyOnSigterm) {
  Process server("select_echo_server", {});
  const auto address = listening_address(server);
  ASSERT_TRUE(address.has_value());
  auto client = sockit::connect(*address, 5s);
  ASSERT_TRUE(client.has_value()) << client.error().message();
  ASSERT_TRUE(client->send_all("x", 5s).has_value());
  std::array<std::byte, 1> echo{};
  ASSERT_TRUE(client->recv_exact(echo, 5s).has_value());

  server.signal(SIGTERM);
  const Outcome s = server.finish(15s);
  EXPECT_EQ(s.status, 0) << s.err;
  EXPECT_NE(s.out.find("stopping on signal " + std::to_string(SIGTERM)), std::string::npos) << s.out;
  // The server's exit closed our connection: end of stream, not a hang.
  std::array<std::byte, 16> more{};
  const auto n = client->recv_some(more, 5s);
  EXPECT_TRUE(sockit::test::closed_by_peer(n));
}

TEST(Examples, SelectServerRefusesAConnectionWhoseDescriptorIsAboveFdSetsize) {
  rlimit limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &limit), 0);
  if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max <= FD_SETSIZE + 16) {
    GTEST_SKIP() << "RLIMIT_NOFILE hard limit " << limit.rlim_max << " leaves no room above FD_SETSIZE";
  }
  // Two low descriptors: the server's signalfd and its listener. The first client's is above.
  Process server("select_echo_server", {}, SpawnOptions{.free_low_fds = 2});
  const auto address = listening_address(server);
  ASSERT_TRUE(address.has_value());

  auto client = sockit::connect(*address, 5s);
  ASSERT_TRUE(client.has_value()) << client.error().message();
  std::array<std::byte, 16> buffer{};
  const auto n = client->recv_some(buffer, 10s);  // refused: closed without a byte
  EXPECT_TRUE(n.has_value() ? *n == 0 : n.error() == std::errc::connection_reset)
      << (n ? "received data" : n.error().message());

  server.signal(SIGTERM);
  const Outcome s = server.finish(15s);
  EXPECT_EQ(s.status, 0) << s.err;
  EXPECT_NE(s.err.find("refusing a connection"), std::string::npos) << s.err;
  EXPECT_NE(s.out.find("0 client(s) served"), std::string::npos) << s.out;
}

}  // namespace
