#include "support/service_process.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>

namespace sockit::test {
namespace {

constexpr char kStats = 's';
constexpr char kStop = 'q';
constexpr std::uint32_t kMaxStatsSize = 4096;

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

// [length][bytes]: the report's address text, and each answer's counters.
bool write_sized(int fd, const void* data, std::uint32_t size) {
  return write_all(fd, &size, sizeof size) && write_all(fd, data, size);
}

// The child's side: [status byte][length][address text or error], then requests until stop or EOF.
int serve(const StartService& start, rlim_t descriptor_limit, int channel) {
  ::alarm(60);
  if (descriptor_limit != 0) {
    const rlimit limit{descriptor_limit, descriptor_limit};
    if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) return 10;
  }
  auto service = start();
  const std::uint8_t ok = service ? 1 : 0;
  const std::string text = service ? service->address.to_string() : service.error();
  if (!write_all(channel, &ok, 1) || !write_sized(channel, text.data(), static_cast<std::uint32_t>(text.size()))) {
    return 11;
  }
  if (!service) return 12;
  for (;;) {
    char request = kStop;
    const ssize_t n = ::read(channel, &request, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || request == kStop) break;
    const std::vector<std::byte> stats = service->stats();
    if (!write_sized(channel, stats.data(), static_cast<std::uint32_t>(stats.size()))) return 13;
  }
  service->stop();
  return 0;
}

}  // namespace

ServiceProcess::ServiceProcess(StartService start, rlim_t descriptor_limit) {
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
    return serve(start, descriptor_limit, child_end.get());
  });
}

ServiceProcess::~ServiceProcess() {
  if (child_ && !exit_status_) (void)stop();
}

bool ServiceProcess::started() {
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

std::optional<std::vector<std::byte>> ServiceProcess::stats_bytes() {
  if (!child_ || exit_status_) return std::nullopt;
  if (!write_all(channel_.get(), &kStats, 1)) return std::nullopt;
  std::uint32_t length = 0;
  if (!read_exact(channel_.get(), &length, sizeof length, std::chrono::seconds(10)) || length > kMaxStatsSize) {
    return std::nullopt;
  }
  std::vector<std::byte> bytes(length);
  if (!read_exact(channel_.get(), bytes.data(), length, std::chrono::seconds(1))) return std::nullopt;
  return bytes;
}

int ServiceProcess::stop() {
  if (exit_status_) return *exit_status_;
  if (!child_) return -1001;
  (void)write_all(channel_.get(), &kStop, 1);
  exit_status_ = child_->wait(std::chrono::seconds(10));
  return *exit_status_;
}

}  // namespace sockit::test
