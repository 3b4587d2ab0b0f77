#include "support/server_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <thread>
#include <type_traits>

namespace sockit::test {
namespace {

static_assert(std::is_trivially_copyable_v<net::ServerStats>, "sent through a pipe as bytes");

constexpr char kStats = 's';
constexpr char kStop = 'q';

// Reads exactly `size` bytes, waiting at most `limit` in all.
bool read_exact(int fd, void* data, std::size_t size, std::chrono::milliseconds limit) {
  auto* p = static_cast<char*>(data);
  const auto until = std::chrono::steady_clock::now() + limit;
  while (size > 0) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now()).count();
    if (left <= 0) return false;
    pollfd pfd{fd, POLLIN, 0};
    const int ready = ::poll(&pfd, 1, static_cast<int>(left));
    if (ready < 0 && errno == EINTR) continue;
    if (ready != 1) return false;
    const ssize_t n = ::read(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

bool write_all(int fd, const void* data, std::size_t size) {
  const auto* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::send(fd, p, size, MSG_NOSIGNAL);  // a socket: a dead peer is EPIPE, not SIGPIPE
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

// The child's side: [status byte][length][address text], then requests until stop or EOF.
int serve(const Address& address, net::ServerOptions options, const net::Server::ConnectionHandler& handler,
          rlim_t descriptor_limit, int channel) {
  ::alarm(60);
  if (descriptor_limit != 0) {
    const rlimit limit{descriptor_limit, descriptor_limit};
    if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) return 10;
  }
  auto server = net::Server::create(address, std::move(options), handler);
  std::string text;
  std::uint8_t ok = 0;
  if (!server) {
    text = "create: " + server.error().message();
  } else if (auto started = (*server)->start(); !started) {
    text = "start: " + started.error().message();
  } else {
    ok = 1;
    text = (*server)->local_address().to_string();
  }
  const auto length = static_cast<std::uint32_t>(text.size());
  if (!write_all(channel, &ok, 1) || !write_all(channel, &length, sizeof length) ||
      !write_all(channel, text.data(), text.size())) {
    return 11;
  }
  if (ok == 0) return 12;
  for (;;) {
    char request = kStop;
    const ssize_t n = ::read(channel, &request, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || request == kStop) break;
    const net::ServerStats stats = (*server)->stats();
    if (!write_all(channel, &stats, sizeof stats)) return 13;
  }
  (*server)->shutdown(std::chrono::seconds(1));
  return 0;
}

}  // namespace

ServerProcess::ServerProcess(const Address& address, net::ServerOptions options,
                             net::Server::ConnectionHandler handler, rlim_t descriptor_limit) {
  // One socketpair both ways (not pipes): sends with MSG_NOSIGNAL, so a child that
  // died is an error here, never a SIGPIPE that kills the test binary.
  int ends[2] = {-1, -1};
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) != 0) {
    error_ = "socketpair failed";
    return;
  }
  channel_ = Fd(ends[0]);
  Fd child_end(ends[1]);
  child_ = std::make_unique<Child>([&] {
    channel_.reset();  // the parent's end, closed here so that the parent going away is an EOF
    return serve(address, std::move(options), handler, descriptor_limit, child_end.get());
  });
}

ServerProcess::~ServerProcess() {
  if (child_ && !exit_status_) (void)stop();
}

bool ServerProcess::started() {
  if (reported_) return error_.empty();
  reported_ = true;
  if (!child_) return false;
  std::uint8_t ok = 0;
  std::uint32_t length = 0;
  if (!read_exact(channel_.get(), &ok, 1, std::chrono::seconds(10)) ||
      !read_exact(channel_.get(), &length, sizeof length, std::chrono::seconds(1)) || length > 4096) {
    error_ = "the server process did not report";
    return false;
  }
  std::string text(length, '\0');
  if (!read_exact(channel_.get(), text.data(), length, std::chrono::seconds(1))) {
    error_ = "the server process's report was cut short";
    return false;
  }
  if (ok == 0) {
    error_ = text;
    return false;
  }
  auto parsed = Address::parse(text);
  if (!parsed) {
    error_ = "unparsable address " + text;
    return false;
  }
  address_ = *parsed;
  return true;
}

std::optional<net::ServerStats> ServerProcess::stats() {
  if (!child_ || exit_status_) return std::nullopt;
  if (!write_all(channel_.get(), &kStats, 1)) return std::nullopt;
  net::ServerStats stats;
  if (!read_exact(channel_.get(), &stats, sizeof stats, std::chrono::seconds(10))) return std::nullopt;
  return stats;
}

std::optional<net::ServerStats> ServerProcess::stats_when(const std::function<bool(const net::ServerStats&)>& done,
                                                         std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  for (;;) {
    auto s = stats();
    if (!s || done(*s) || std::chrono::steady_clock::now() > until) return s;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

int ServerProcess::stop() {
  if (exit_status_) return *exit_status_;
  if (!child_) return -1001;
  (void)write_all(channel_.get(), &kStop, 1);
  exit_status_ = child_->wait(std::chrono::seconds(10));
  return *exit_status_;
}

void echo_messages(net::Connection& c) {
  c.on_message([](net::Connection& self, std::span<const std::byte> m) { (void)self.send(m); });
}

}  // namespace sockit::test
