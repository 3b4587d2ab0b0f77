// Test harness for the sockit CLI: runs the built binary (and peer tools such as
// socat or nc) as child processes with pipes on stdin/stdout/stderr.
//
// Every wait is bounded: a child that does not finish in time is killed with
// SIGKILL and reaped, and the destructor does the same for a child a failing test
// left behind, so no test hangs and none leaves a zombie or a descriptor behind.
// Header-only because tests/CMakeLists.txt compiles one source per test binary; the
// names live in sockit::test::cli so they cannot collide (ODR) with tests/support.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

extern char** environ;

namespace sockit::test::cli {

using namespace std::chrono_literals;

// Generous: these machines are small and the suites run in parallel.
inline constexpr std::chrono::milliseconds kWait = 10s;

// The sockit binary under test (CTest sets SOCKIT_BIN).
inline std::string sockit_bin() {
  const char* bin = std::getenv("SOCKIT_BIN");
  return bin != nullptr ? bin : "sockit";
}

// True if `name` is an executable somewhere on PATH.
inline bool have_program(std::string_view name) {
  const char* path = std::getenv("PATH");
  std::string_view dirs = path != nullptr ? path : "/usr/bin:/bin";
  while (!dirs.empty()) {
    const auto colon = dirs.find(':');
    const std::string candidate = std::string(dirs.substr(0, colon)) + "/" + std::string(name);
    if (::access(candidate.c_str(), X_OK) == 0) return true;
    if (colon == std::string_view::npos) break;
    dirs.remove_prefix(colon + 1);
  }
  return false;
}

// How a child ended.
struct Exit {
  bool timed_out = false;  // it had to be killed
  int code = -1;           // exit status, or -1 if it died by a signal
  int signal = 0;          // the signal that killed it, or 0
};

inline std::ostream& operator<<(std::ostream& os, const Exit& e) {
  if (e.timed_out) return os << "timed out (killed)";
  if (e.signal != 0) return os << "killed by signal " << e.signal;
  return os << "exit " << e.code;
}

struct ProcessOptions {
  std::string stdin_file;  // read stdin from this file instead of a pipe
};

class Process {
 public:
  explicit Process(std::vector<std::string> argv, ProcessOptions options = {}) : argv_(std::move(argv)) {
    // A child that dies while we write its stdin must be an EPIPE here, not the end
    // of the test binary.
    ::signal(SIGPIPE, SIG_IGN);
    int in[2] = {-1, -1};
    int out[2];
    int err[2];
    if (options.stdin_file.empty() && ::pipe2(in, O_CLOEXEC) != 0) return;
    if (::pipe2(out, O_CLOEXEC) != 0) {
      close_pair(in);
      return;
    }
    if (::pipe2(err, O_CLOEXEC) != 0) {
      close_pair(in);
      close_pair(out);
      return;
    }

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    if (options.stdin_file.empty()) {
      posix_spawn_file_actions_adddup2(&actions, in[0], 0);
    } else {
      posix_spawn_file_actions_addopen(&actions, 0, options.stdin_file.c_str(), O_RDONLY, 0);
    }
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err[1], 2);
    std::vector<char*> args;
    for (std::string& a : argv_) args.push_back(a.data());
    args.push_back(nullptr);
    const int rc = ::posix_spawnp(&pid_, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) pid_ = -1;

    // Keep only our ends.
    if (in[0] >= 0) ::close(in[0]);
    ::close(out[1]);
    ::close(err[1]);
    stdin_ = in[1];
    stdout_ = out[0];
    stderr_ = err[0];
  }

  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  ~Process() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      reap(true);
    }
    close_fd(stdin_);
    close_fd(stdout_);
    close_fd(stderr_);
  }

  [[nodiscard]] bool started() const { return pid_ > 0; }
  [[nodiscard]] pid_t pid() const { return pid_; }
  [[nodiscard]] const std::string& out() const { return out_; }
  [[nodiscard]] const std::string& err() const { return err_; }

  // Writes to the child's stdin; false if it is gone.
  bool send(std::string_view data) {
    while (!data.empty() && stdin_ >= 0) {
      const ssize_t n = ::write(stdin_, data.data(), data.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return data.empty();
  }
  void close_stdin() { close_fd(stdin_); }
  // Stops reading the child's stdout: its next write gets EPIPE.
  void close_stdout() { close_fd(stdout_); }
  void signal(int sig) {
    if (pid_ > 0 && !reaped_) ::kill(pid_, sig);
  }

  // Reads stdout/stderr until `needle` appears in the chosen stream.
  bool wait_for_out(std::string_view needle, std::chrono::milliseconds timeout = kWait) {
    return wait_until([&] { return out_.find(needle) != std::string::npos; }, timeout);
  }
  bool wait_for_err(std::string_view needle, std::chrono::milliseconds timeout = kWait) {
    return wait_until([&] { return err_.find(needle) != std::string::npos; }, timeout);
  }
  // Until `needle` has appeared `times` times on stderr (periodic lines).
  bool wait_for_err_times(std::string_view needle, std::size_t times,
                          std::chrono::milliseconds timeout = kWait) {
    return wait_until(
        [&] {
          std::size_t seen = 0;
          for (auto at = err_.find(needle); at != std::string::npos; at = err_.find(needle, at + 1)) ++seen;
          return seen >= times;
        },
        timeout);
  }

  // The address in "sockit: listening on ADDR", once the server prints it.
  std::optional<std::string> listening_address(std::chrono::milliseconds timeout = kWait) {
    static constexpr std::string_view kPrefix = "sockit: listening on ";
    std::optional<std::string> address;
    wait_until(
        [&] {
          const auto at = err_.find(kPrefix);
          if (at == std::string::npos) return false;
          const auto end = err_.find('\n', at);
          if (end == std::string::npos) return false;
          address = err_.substr(at + kPrefix.size(), end - at - kPrefix.size());
          return true;
        },
        timeout);
    return address;
  }

  // Closes stdin, reads until the child exits (killing it after `timeout`).
  Exit finish(std::chrono::milliseconds timeout = kWait) {
    close_stdin();
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!reaped_ && std::chrono::steady_clock::now() < deadline) {
      pump_io(20);
      reap(false);
    }
    if (!reaped_) {
      exit_.timed_out = true;
      signal(SIGKILL);
      reap(true);
    }
    // The pipes reach EOF once the child is gone; collect what is left, briefly.
    const auto drain_deadline = std::chrono::steady_clock::now() + 2s;
    while ((stdout_ >= 0 || stderr_ >= 0) && std::chrono::steady_clock::now() < drain_deadline) pump_io(20);
    return exit_;
  }

 private:
  template <typename Done>
  bool wait_until(Done done, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (done()) return true;
      if (std::chrono::steady_clock::now() >= deadline || (stdout_ < 0 && stderr_ < 0)) return done();
      pump_io(20);
    }
  }

  // One poll over the output pipes, appending what arrived.
  void pump_io(int timeout_ms) {
    pollfd fds[2] = {{stdout_, POLLIN, 0}, {stderr_, POLLIN, 0}};  // -1 entries are ignored
    if (::poll(fds, 2, timeout_ms) <= 0) return;
    read_into(fds[0], stdout_, out_);
    read_into(fds[1], stderr_, err_);
  }

  static void read_into(const pollfd& p, int& fd, std::string& into) {
    if (fd < 0 || p.revents == 0) return;
    char buffer[65536];
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n > 0) {
      into.append(buffer, static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      close_fd(fd);
    }
  }

  void reap(bool block) {
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
    if (r != pid_) return;
    reaped_ = true;
    if (WIFEXITED(status)) exit_.code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) exit_.signal = WTERMSIG(status);
  }

  static void close_fd(int& fd) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  static void close_pair(int (&fds)[2]) {
    close_fd(fds[0]);
    close_fd(fds[1]);
  }

  std::vector<std::string> argv_;
  pid_t pid_ = -1;
  bool reaped_ = false;
  Exit exit_;
  int stdin_ = -1;
  int stdout_ = -1;
  int stderr_ = -1;
  std::string out_;
  std::string err_;
};

// What a finished `sockit` run left: how it ended and all it wrote.
struct Outcome {
  Exit exit;
  std::string out;
  std::string err;
};

// Runs `sockit ARGS...` with `input` on its stdin (then end of file) and waits for
// it to end (killed after kWait).
inline Outcome run_sockit(std::vector<std::string> args, std::string_view input = {}) {
  args.insert(args.begin(), sockit_bin());
  Process child(std::move(args));
  child.send(input);
  Exit exit = child.finish();
  return {exit, child.out(), child.err()};
}

// A `sockit echo ADDR` server, started and its real address learned.
struct EchoServer {
  explicit EchoServer(const std::string& listen_address, std::vector<std::string> extra = {})
      : child([&] {
          std::vector<std::string> argv = {sockit_bin(), "echo", listen_address};
          argv.insert(argv.end(), extra.begin(), extra.end());
          return argv;
        }()) {
    if (child.started()) this->address = child.listening_address().value_or("");
  }
  // SIGINT, then the exit: a clean stop is exit status 0.
  Exit stop() {
    child.signal(SIGINT);
    return child.finish();
  }

  Process child;
  std::string address;  // empty if the server did not come up
};

// The port of "tcp://127.0.0.1:PORT" or "udp://[::1]:PORT".
inline std::string port_of(const std::string& address) { return address.substr(address.rfind(':') + 1); }

}  // namespace sockit::test::cli
