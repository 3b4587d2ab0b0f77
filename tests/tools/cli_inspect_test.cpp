// `sockit inspect`: each situation it must report is created here (a CLOSE-WAIT
// connection, a full accept queue, a process near its fd limit, a wildcard
// listener, Unix listeners on a path and in the abstract namespace) and the
// listing is checked for it, in the table, in --json (parsed back by python3's
// json module: the project has no JSON parser) and against ss's count.
// Loopback and temp-dir Unix paths only; every child is bounded by the harness.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "cli_harness.hpp"
#include "sockit/sockit.hpp"
#include "support/child.hpp"
#include "support/temp_dir.hpp"

namespace sockit::test::cli {
namespace {

struct InspectRun {
  Exit exit;
  std::string out;
  std::string err;
};

InspectRun inspect(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {sockit_bin(), "inspect"};
  argv.insert(argv.end(), args.begin(), args.end());
  Process child(argv);
  const Exit exit = child.finish();
  return {exit, child.out(), child.err()};
}

std::string self_pid() { return std::to_string(::getpid()); }

// Runs a python3 script on `json` (stdin) and returns what it prints.
std::string python(const std::string& script, const std::string& json,
                   const std::vector<std::string>& args = {}) {
  std::vector<std::string> argv = {"python3", "-c", script};
  argv.insert(argv.end(), args.begin(), args.end());
  Process child(argv);
  child.send(json);
  const Exit exit = child.finish();
  EXPECT_EQ(exit.code, 0) << exit << "\n" << child.err();
  return child.out();
}

// The lines of `text` that contain `needle`.
std::vector<std::string> lines_with(const std::string& text, const std::string& needle) {
  std::vector<std::string> found;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = std::min(text.find('\n', start), text.size());
    const std::string line = text.substr(start, end - start);
    if (line.find(needle) != std::string::npos) found.push_back(line);
    start = end + 1;
  }
  return found;
}

// An abstract-namespace listener under a name with bytes JSON must escape.
Fd abstract_listener(const std::string& name) {
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path + 1, name.data(), name.size());
  const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  EXPECT_EQ(::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), length), 0);
  EXPECT_EQ(::listen(fd.get(), 4), 0);
  return fd;
}

TEST(CliInspect, UnixListenersOnAPathAndAbstractAreListedByNameInTableAndJson) {
  TempDir dir;
  const std::string path = dir.file("inspect.sock");
  auto on_path = listen(*Address::parse("unix:" + path));
  ASSERT_TRUE(on_path);
  const std::string abstract = unique_abstract_name() + "\"q\\b\nnl";
  const Fd in_abstract = abstract_listener(abstract);

  const InspectRun table = inspect({"--unix", "--pid", self_pid()});
  ASSERT_EQ(table.exit.code, 0) << table.exit << "\n" << table.err;
  const auto path_lines = lines_with(table.out, path);
  ASSERT_EQ(path_lines.size(), 1U) << table.out;
  EXPECT_NE(path_lines[0].find("LISTEN"), std::string::npos) << path_lines[0];
  EXPECT_NE(path_lines[0].find(self_pid() + "/"), std::string::npos) << path_lines[0];
  // The newline in the abstract name is escaped: one line, not two.
  EXPECT_EQ(lines_with(table.out, "@" + unique_abstract_name().substr(0, 12)).size(), 1U) << table.out;
  EXPECT_EQ(lines_with(table.out, "\\x0anl").size(), 1U) << table.out;

  const InspectRun json = inspect({"--unix", "--pid", self_pid(), "--json"});
  ASSERT_EQ(json.exit.code, 0) << json.exit << "\n" << json.err;
  EXPECT_EQ(json.out.back(), '\n');
  const std::string script =
      "import json, sys\n"
      "d = json.load(sys.stdin)\n"
      "pid = int(sys.argv[3])\n"
      "for name in sys.argv[1:3]:\n"
      "    s = [s for s in d['sockets'] if s['local'] == name]\n"
      "    print(len(s), s[0]['state'], s[0]['netid'], s[0]['backlog']['max'] > 0,\n"
      "          any(p['pid'] == pid for p in s[0]['processes']))\n"
      "print(all(any(p['pid'] == pid for p in s['processes']) for s in d['sockets']))\n";
  EXPECT_EQ(python(script, json.out, {path, "@" + abstract, self_pid()}),
            "1 LISTEN u_str True True\n1 LISTEN u_str True True\nTrue\n");
}

TEST(CliInspect, PathFilterAgreesWithSsOnTheNumberOfListeners) {
  if (!have_program("ss")) GTEST_SKIP() << "ss (iproute2) is not installed: nothing to compare with";
  TempDir dir;
  std::vector<Listener> listeners;
  for (const char* name : {"a.sock", "b.sock", "c.sock"}) {
    auto listener = listen(*Address::parse("unix:" + dir.file(name)));
    ASSERT_TRUE(listener);
    listeners.push_back(std::move(*listener));
  }
  auto connected = connect(*Address::parse("unix:" + dir.file("a.sock")), Deadline::after(kWait));
  ASSERT_TRUE(connected);

  const InspectRun ours = inspect({"--unix", "--listening", "--path", dir.path()});
  ASSERT_EQ(ours.exit.code, 0) << ours.err;
  Process ss({"ss", "-x", "-l", "-H"});
  ASSERT_EQ(ss.finish().code, 0) << ss.err();
  EXPECT_EQ(lines_with(ours.out, dir.path()).size(), 3U) << ours.out;
  EXPECT_EQ(lines_with(ss.out(), dir.path()).size(), lines_with(ours.out, dir.path()).size()) << ss.out();
}

TEST(CliInspect, ConnectionThePeerClosedIsCloseWaitAndWarned) {
  auto listener = listen(*Address::parse("tcp://127.0.0.1:0"));
  ASSERT_TRUE(listener);
  auto client = connect(*listener->local_address(), Deadline::after(kWait));
  ASSERT_TRUE(client);
  auto server_side = listener->accept(Deadline::after(kWait));
  ASSERT_TRUE(server_side);
  client->close();
  std::byte byte{};
  auto eof = server_side->recv_some(std::span(&byte, 1), Deadline::after(kWait));  // the FIN has arrived
  ASSERT_TRUE(eof && *eof == 0);
  const std::string port = port_of(listener->local_address()->to_string());

  const InspectRun run = inspect({"--tcp", "--state", "close-wait", "--port", port});
  ASSERT_EQ(run.exit.code, 0) << run.err;
  const auto rows = lines_with(run.out, "tcp    CLOSE-WAIT");
  ASSERT_EQ(rows.size(), 1U) << run.out;
  EXPECT_NE(rows[0].find("127.0.0.1:" + port), std::string::npos);
  EXPECT_NE(rows[0].find(self_pid() + "/"), std::string::npos);
  EXPECT_NE(rows[0].find("rtt="), std::string::npos) << rows[0];
  const auto warnings = lines_with(run.out, "close-wait: tcp 127.0.0.1:" + port);
  ASSERT_EQ(warnings.size(), 1U) << run.out;
  EXPECT_NE(warnings[0].find("(pid " + self_pid()), std::string::npos) << warnings[0];
}

// Connects without waiting: the third client's SYN finds the queue full.
Fd start_connect(const Endpoint& to) {
  Fd fd(::socket(to.family(), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  const int rc = ::connect(fd.get(), to.get(), to.length);
  EXPECT_TRUE(rc == 0 || errno == EINPROGRESS) << std::strerror(errno);
  return fd;
}

bool connected_within(int fd, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLOUT, 0};
  return ::poll(&p, 1, static_cast<int>(timeout.count())) == 1 && (p.revents & POLLOUT) != 0;
}

TEST(CliInspect, ListenerNotAcceptingHasAFullAcceptQueue) {
  auto listener = listen(*Address::parse("tcp://127.0.0.1:0"), ListenOptions{.backlog = 1});
  ASSERT_TRUE(listener);
  const auto to = listener->local_address()->resolve();
  ASSERT_TRUE(to && !to->empty());
  // backlog 1: the kernel queues two handshakes; the third client is left waiting.
  std::vector<Fd> clients;
  for (int i = 0; i < 3; ++i) clients.push_back(start_connect(to->front()));
  ASSERT_TRUE(connected_within(clients[0].get(), kWait));
  ASSERT_TRUE(connected_within(clients[1].get(), kWait));
  const std::string port = port_of(listener->local_address()->to_string());

  const InspectRun run = inspect({"--tcp", "--listening", "--port", port});
  ASSERT_EQ(run.exit.code, 0) << run.err;
  const auto rows = lines_with(run.out, "LISTEN");
  ASSERT_EQ(rows.size(), 1U) << run.out;
  EXPECT_NE(rows[0].find("backlog=2/1"), std::string::npos) << rows[0];
  EXPECT_EQ(lines_with(run.out, "accept-queue-full: tcp listener 127.0.0.1:" + port).size(), 1U) << run.out;
  EXPECT_TRUE(lines_with(run.out, "wildcard-bind").empty()) << run.out;
}

TEST(CliInspect, ProcessNearItsDescriptorLimitIsWarned) {
  int ready[2];
  int hold[2];
  ASSERT_EQ(::pipe2(ready, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(hold, O_CLOEXEC), 0);
  Fd ready_read(ready[0]), ready_write(ready[1]), hold_read(hold[0]), hold_write(hold[1]);
  Child child([&] {
    hold_write.reset();
    const rlimit limit{64, 64};
    if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) return 1;
    // Descriptors are the lowest free numbers: once /dev/null opens as 55, 0..55
    // are all open, 56 of 64 (87%).
    for (int fd = -1; fd < 55;) {
      fd = ::open("/dev/null", O_RDONLY);
      if (fd < 0) return 2;
    }
    if (::write(ready_write.get(), "r", 1) != 1) return 3;
    char byte;
    (void)::read(hold_read.get(), &byte, 1);  // until the test closes its end
    return 0;
  });
  ASSERT_GT(child.pid(), 0);
  ready_write.reset();
  char byte = 0;
  pollfd p{ready_read.get(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, static_cast<int>(kWait.count())), 1);
  ASSERT_EQ(::read(ready_read.get(), &byte, 1), 1) << "the child could not open its descriptors";

  const pid_t pid = child.pid();
  const InspectRun run = inspect({"--pid", std::to_string(pid)});
  hold_write.reset();
  EXPECT_EQ(child.wait(kWait), 0);
  ASSERT_EQ(run.exit.code, 0) << run.err;
  const auto warnings = lines_with(run.out, "near-fd-limit: process " + std::to_string(pid));
  ASSERT_EQ(warnings.size(), 1U) << run.out;
  EXPECT_NE(warnings[0].find(" of its 64 descriptors open"), std::string::npos) << warnings[0];
}

TEST(CliInspect, WildcardListenerIsWarnedAndLoopbackOneIsNot) {
  auto wildcard = listen(*Address::parse("tcp://0.0.0.0:0"));
  ASSERT_TRUE(wildcard);
  const std::string port = port_of(wildcard->local_address()->to_string());
  const InspectRun run = inspect({"--tcp", "-l", "--port", port, "--json"});
  ASSERT_EQ(run.exit.code, 0) << run.err;
  const std::string script =
      "import json, sys\n"
      "d = json.load(sys.stdin)\n"
      "print([s['local'] for s in d['sockets']], [w['kind'] for w in d['warnings']])\n";
  EXPECT_EQ(python(script, run.out), "['*:" + port + "'] ['wildcard-bind']\n");
}

TEST(CliInspect, WatchPrintsCountSnapshotsAndStopsOnSigint) {
  const InspectRun counted =
      inspect({"--tcp", "--pid", self_pid(), "--json", "--watch", "0.1", "--count", "3", "-v"});
  ASSERT_EQ(counted.exit.code, 0) << counted.err;
  EXPECT_EQ(lines_with(counted.out, "{\"sockets\":").size(), 3U) << counted.out;
  EXPECT_EQ(lines_with(counted.err, "sockets from sock_diag").size(), 3U) << counted.err;  // -v: each round

  Process watching({sockit_bin(), "inspect", "--tcp", "--pid", self_pid(), "--watch", "30"});
  ASSERT_TRUE(watching.wait_for_out("Netid"));
  watching.signal(SIGINT);
  const Exit exit = watching.finish();
  EXPECT_EQ(exit.code, 0) << exit << "\n" << watching.err();
  EXPECT_FALSE(exit.timed_out);
}

TEST(CliInspect, OptionsThatDoNotFitAreUsageErrors) {
  const std::vector<std::vector<std::string>> cases = {
      {"--unix", "--port", "80"}, {"--tcp", "--path", "/tmp"}, {"--port", "80", "--path", "/tmp"},
      {"--state", "bogus"},       {"--count", "2"},           {"--watch", "0"},
      {"--port", "70000"}};
  for (const auto& args : cases) {
    const InspectRun run = inspect(args);
    EXPECT_EQ(run.exit.code, 2) << args[0] << " " << args[1] << "\n" << run.err;
    EXPECT_TRUE(run.err.starts_with("sockit: ")) << run.err;
    EXPECT_TRUE(run.out.empty()) << run.out;
  }
  const InspectRun bad_state = inspect({"--state", "bogus"});
  EXPECT_NE(bad_state.err.find("close-wait"), std::string::npos) << bad_state.err;  // names the states
}

TEST(CliInspect, PidThatDoesNotExistIsARuntimeError) {
  // A child that has exited and been reaped: its pid names no process (until reused).
  Child gone([] { return 0; });
  const pid_t pid = gone.pid();
  ASSERT_EQ(gone.wait(kWait), 0);
  const InspectRun run = inspect({"--pid", std::to_string(pid)});
  EXPECT_EQ(run.exit.code, 1) << run.err;
  EXPECT_EQ(run.err, "sockit: inspect: no process with pid " + std::to_string(pid) + " (or it exited)\n");
}

}  // namespace
}  // namespace sockit::test::cli
