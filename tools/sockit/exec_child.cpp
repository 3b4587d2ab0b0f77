#include "exec_child.hpp"

#include <fmt/core.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string_view>
#include <vector>

extern char** environ;

namespace sockit::cli {
namespace {

std::error_code last_error() { return {errno, std::system_category()}; }

// Our environment without any SOCKIT_PEER/SOCKIT_LOCAL of our own parent, plus
// this connection's.
std::vector<std::string> child_environment(const std::string& peer, const std::string& local) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view entry(*e);
    if (entry.starts_with("SOCKIT_PEER=") || entry.starts_with("SOCKIT_LOCAL=")) continue;
    env.emplace_back(entry);
  }
  env.push_back("SOCKIT_PEER=" + peer);
  env.push_back("SOCKIT_LOCAL=" + local);
  return env;
}

// The attributes that undo what sockit changed in itself: blocked SIGINT/SIGTERM
// (for the signalfd) and an ignored SIGPIPE would both survive exec.
class SpawnAttributes {
 public:
  SpawnAttributes() {
    posix_spawnattr_init(&attr_);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr_, &none);
    sigset_t defaults;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGTERM);
    posix_spawnattr_setsigdefault(&attr_, &defaults);
    // Its own process group, so that ending it ends what the shell started too.
    posix_spawnattr_setpgroup(&attr_, 0);
    posix_spawnattr_setflags(&attr_, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
  }
  SpawnAttributes(const SpawnAttributes&) = delete;
  SpawnAttributes& operator=(const SpawnAttributes&) = delete;
  ~SpawnAttributes() { posix_spawnattr_destroy(&attr_); }
  [[nodiscard]] const posix_spawnattr_t* get() const { return &attr_; }

 private:
  posix_spawnattr_t attr_;
};

class FileActions {
 public:
  explicit FileActions(int socket_fd) {
    posix_spawn_file_actions_init(&actions_);
    // dup2 clears FD_CLOEXEC on the copies; every other descriptor of ours is
    // close-on-exec, so the child holds nothing else.
    posix_spawn_file_actions_adddup2(&actions_, socket_fd, 0);
    posix_spawn_file_actions_adddup2(&actions_, socket_fd, 1);
  }
  FileActions(const FileActions&) = delete;
  FileActions& operator=(const FileActions&) = delete;
  ~FileActions() { posix_spawn_file_actions_destroy(&actions_); }
  [[nodiscard]] const posix_spawn_file_actions_t* get() const { return &actions_; }

 private:
  posix_spawn_file_actions_t actions_;
};

}  // namespace

Result<ExecChild> ExecChild::spawn(const std::string& command, int socket_fd, const std::string& peer,
                                   const std::string& local) {
  std::vector<std::string> env = child_environment(peer, local);
  std::vector<char*> envp;
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string sh = "/bin/sh";
  std::string dash_c = "-c";
  std::string cmd = command;
  char* argv[] = {sh.data(), dash_c.data(), cmd.data(), nullptr};

  const FileActions actions(socket_fd);
  const SpawnAttributes attributes;
  pid_t pid = -1;
  if (const int rc = ::posix_spawn(&pid, "/bin/sh", actions.get(), attributes.get(), argv, envp.data());
      rc != 0) {
    return fail(std::error_code(rc, std::system_category()));
  }
  // Through syscall(2): glibc 2.36's <sys/pidfd.h> declares pidfd_open without
  // extern "C", so C++ cannot link to it.
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    const std::error_code ec = last_error();
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    return fail(ec);
  }
  return ExecChild(pid, Fd(pidfd));
}

ExecChild::~ExecChild() { kill_and_reap(); }

void ExecChild::kill_and_reap() {
  if (pid_ <= 0 || status_) return;  // moved from, or reaped
  signal(SIGKILL);
  int status = 0;
  pid_t r = 0;
  do {
    r = ::waitpid(pid_, &status, 0);
  } while (r < 0 && errno == EINTR);
  status_ = status;
}

std::optional<int> ExecChild::try_reap() {
  if (status_ || pid_ <= 0) return status_;
  int status = 0;
  pid_t r = 0;
  do {
    r = ::waitpid(pid_, &status, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == pid_) status_ = status;
  return status_;
}

void ExecChild::signal(int sig) const {
  // To the child's process group (the shell and what it started). Until we reap
  // the child its pid, which is the group's id, cannot be reused.
  if (pid_ > 0 && !status_) ::kill(-pid_, sig);
}

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) return fmt::format("exit status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const char* abbrev = ::sigabbrev_np(WTERMSIG(status));
    return abbrev != nullptr ? fmt::format("killed by SIG{}", abbrev)
                             : fmt::format("killed by signal {}", WTERMSIG(status));
  }
  return fmt::format("wait status {}", status);
}

void terminate_children(std::span<ExecChild* const> children, std::chrono::milliseconds grace) {
  for (ExecChild* child : children) child->signal(SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  for (;;) {
    std::vector<pollfd> fds;
    for (ExecChild* child : children) {
      if (!child->try_reap()) fds.push_back({child->pidfd(), POLLIN, 0});
    }
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (fds.empty() || left.count() <= 0) break;
    ::poll(fds.data(), fds.size(), static_cast<int>(left.count()));
  }
  for (ExecChild* child : children) child->kill_and_reap();
}

}  // namespace sockit::cli
