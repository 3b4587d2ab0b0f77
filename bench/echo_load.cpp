// The load program of bench-echo and bench-scale: N connections to an echo server,
// each keeping `pipeline` fixed-size messages in flight (it sends `pipeline`
// messages, then one more for every message whose echo has fully come back),
// checking every echoed byte. Prints one JSON line on stdout: messages/s over the
// measured window (after the warm-up) and the per-message round trip (queued here
// -> echo fully received here: a full round trip, not one way) from a log-linear
// histogram of the messages completed in the window (only those queued after the
// start-up below, whose convoy is not the steady state).
//
// Raw non-blocking sockets and level-triggered epoll, no libsockit: it should
// measure the servers, not itself, and be the same program for all of them. The
// replacements for all messages completed by one recv() go out in one send(), so
// the load spends about one recv and one send per wake-up per connection, as a
// server does. `--threads N` splits the connections over N threads, each with its
// own epoll, for when one load thread would be the bottleneck.
//
// Connecting comes first and is not timed: connects start at most
// `--connect-batch` ahead of the server's accepts (with --server-pid; otherwise at
// most that many handshakes in progress), a Unix connect refused with EAGAIN (the
// server's backlog is full) is retried after a short pause. A connection counts as established once
// its first message has come back (so the server accepted and serves it), and
// every one must be within `--connect-timeout-seconds` or it fails: the warm-up
// starts only then, so the window measures all N connections at work. Connections
// that got no echo at all inside the window are counted (a server that starves
// some shows there). With `--server-pid`, the server's CPU time (utime + stime of
// /proc/PID/stat, all its threads) and the load's own (getrusage) are sampled at
// the start and end of the measured window, and the server's VmRSS at the end.
//
// Bounded: it exits after connecting + warm-up + duration, and fails (exit 1, a
// line on stderr) if not every connection is established in time, the server
// closes one, errors, corrupts a byte or stops answering for 5 s.
#include <dirent.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cinttypes>
#include <cstdint>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_common.hpp"

namespace {

using bench::fail;

std::uint64_t now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(ts.tv_nsec);
}

void sleep_until_ns(std::uint64_t when) {
  const timespec ts{.tv_sec = static_cast<time_t>(when / 1'000'000'000u),
                    .tv_nsec = static_cast<long>(when % 1'000'000'000u)};
  while (::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}

std::string errno_text(int err) { return std::strerror(err); }

// Log-linear: 16 sub-buckets per power of two, so a percentile is within ~3%.
class Histogram {
 public:
  void add(std::uint64_t v) {
    ++counts_[index(v)];
    ++total_;
    max_ = std::max(max_, v);
  }
  void merge(const Histogram& other) {
    for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
    total_ += other.total_;
    max_ = std::max(max_, other.max_);
  }
  [[nodiscard]] std::uint64_t total() const { return total_; }
  [[nodiscard]] std::uint64_t max() const { return max_; }
  // The middle of the bucket holding the q-th value (never above the largest seen).
  [[nodiscard]] double percentile(double q) const {
    if (total_ == 0) return 0;
    const auto rank = static_cast<std::uint64_t>(q * static_cast<double>(total_ - 1)) + 1;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= rank) return std::min((lower(i) + lower(i + 1)) / 2.0, static_cast<double>(max_));
    }
    return static_cast<double>(max_);
  }

 private:
  static constexpr int kSub = 4;  // log2 of the sub-buckets per octave
  static std::size_t index(std::uint64_t v) {
    if (v < (1u << kSub)) return v;
    const int e = 63 - std::countl_zero(v);
    return static_cast<std::size_t>(e - kSub + 1) * (1u << kSub) + ((v >> (e - kSub)) & ((1u << kSub) - 1));
  }
  static double lower(std::size_t i) {
    if (i < (1u << kSub)) return static_cast<double>(i);
    const std::size_t e = i / (1u << kSub) + kSub - 1;
    const std::size_t sub = i % (1u << kSub);
    return static_cast<double>((std::uint64_t{1} << e) + (std::uint64_t{sub} << (e - kSub)));
  }
  std::array<std::uint64_t, 64 * 16> counts_{};
  std::uint64_t total_ = 0;
  std::uint64_t max_ = 0;
};

struct Options {
  std::string address;
  int connections = 100;
  std::size_t message_size = 64;
  int pipeline = 16;
  double duration_s = 5;
  double warmup_s = 1;
  int threads = 1;
  int server_pid = 0;  // 0: the server is not sampled
  int connect_batch = 256;
  double connect_timeout_s = 30;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) fail("missing value for " + flag);
    const std::string value = argv[++i];
    if (flag == "--address")
      o.address = value;
    else if (flag == "--connections")
      o.connections = std::stoi(value);
    else if (flag == "--message-size")
      o.message_size = std::stoul(value);
    else if (flag == "--pipeline")
      o.pipeline = std::stoi(value);
    else if (flag == "--duration-seconds")
      o.duration_s = std::stod(value);
    else if (flag == "--warmup-seconds")
      o.warmup_s = std::stod(value);
    else if (flag == "--threads")
      o.threads = std::stoi(value);
    else if (flag == "--server-pid")
      o.server_pid = std::stoi(value);
    else if (flag == "--connect-batch")
      o.connect_batch = std::stoi(value);
    else if (flag == "--connect-timeout-seconds")
      o.connect_timeout_s = std::stod(value);
    else
      fail("unknown flag " + flag);
  }
  if (o.address.empty() || o.connections < 1 || o.message_size < 1 || o.pipeline < 1 || o.duration_s <= 0 ||
      o.warmup_s < 0 || o.threads < 1 || o.threads > o.connections || o.server_pid < 0 || o.connect_batch < 1 ||
      o.connect_timeout_s <= 0) {
    fail(
        "usage: echo_load --address unix:PATH|tcp://H:P [--connections 100] [--message-size 64] "
        "[--pipeline 16] [--duration-seconds 5] [--warmup-seconds 1] [--threads 1 (<= connections)] "
        "[--server-pid PID] [--connect-batch 256] [--connect-timeout-seconds 30 (connecting + every first echo)]");
  }
  return o;
}

// Descriptors PID holds (its /proc/PID/fd entries); -1 if it cannot be read.
long count_fds(int pid) {
  DIR* dir = ::opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
  if (dir == nullptr) return -1;
  long n = 0;
  while (const dirent* e = ::readdir(dir)) n += e->d_name[0] != '.';
  ::closedir(dir);
  return n;
}

// Opens every connection before the clock starts, non-blocking, in connection
// order, at most `connect_batch` ahead of the server. A client-side connect
// completes once the connection is in the server's accept queue, not once the
// server accepted it; a full accept queue drops the handshake's last ACK and costs
// a 1 s retransmit (TCP), or fails a non-blocking Unix connect with EAGAIN. So
// with --server-pid a new connect starts only while fewer than `connect_batch`
// connections wait for the server to accept them (its /proc/PID/fd count, as
// idle_rss paces); without it, only the handshakes in progress are bounded. A
// Unix EAGAIN is retried after a 1 ms pause.
std::vector<int> connect_all(const Options& o, const bench::Target& t) {
  std::vector<int> fds(static_cast<std::size_t>(o.connections), -1);
  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) fail("epoll_create1: " + errno_text(errno));
  const std::uint64_t deadline = now_ns() + static_cast<std::uint64_t>(o.connect_timeout_s * 1e9);
  const auto batch = static_cast<std::size_t>(o.connect_batch);
  const long server_fds_before = o.server_pid > 0 ? count_fds(o.server_pid) : -1;
  // Connections the server has accepted, as far as this side can tell.
  auto accepted = [&]() -> std::size_t {
    const long now = count_fds(o.server_pid);
    if (now < 0) fail("cannot read /proc/" + std::to_string(o.server_pid) + "/fd: is the server still running?");
    return now > server_fds_before ? static_cast<std::size_t>(now - server_fds_before) : 0;
  };
  std::vector<epoll_event> ready(batch);
  std::size_t next = 0;
  std::size_t established = 0;
  std::size_t in_progress = 0;
  std::size_t known_accepted = 0;
  auto behind = [&] { return next > known_accepted ? next - known_accepted : 0; };
  int last_retry_errno = 0;
  while (established < fds.size()) {
    bool wait = in_progress > 0;
    while (next < fds.size() && in_progress < batch) {
      if (server_fds_before >= 0 && behind() >= batch) {
        known_accepted = accepted();  // a directory read: only when the last count says wait
        if (behind() >= batch) {
          wait = true;
          break;
        }
      }
      const int fd = ::socket(t.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) fail("socket (connection " + std::to_string(next) + "): " + errno_text(errno));
      if (t.tcp) {
        const int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      }
      if (::connect(fd, reinterpret_cast<const sockaddr*>(&t.addr), t.len) == 0) {
        fds[next++] = fd;
        ++established;
        continue;
      }
      const int err = errno;
      if (err == EINPROGRESS) {
        epoll_event ev{.events = EPOLLOUT, .data = {.u64 = next}};
        if (::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) fail("epoll_ctl: " + errno_text(errno));
        fds[next++] = fd;
        ++in_progress;
        continue;
      }
      ::close(fd);
      if (err != EAGAIN && err != EINTR) {
        fail("connect " + o.address + ": " + errno_text(err) + " after " + std::to_string(established) + " of " +
             std::to_string(fds.size()) + " connections");
      }
      last_retry_errno = err;
      wait = true;
      break;
    }
    if (established == fds.size()) break;
    if (now_ns() > deadline) {
      fail("only " + std::to_string(established) + " of " + std::to_string(fds.size()) + " connections to " +
           o.address + " established in " + std::to_string(o.connect_timeout_s) + " s" +
           (last_retry_errno != 0 ? " (connect kept failing with " + errno_text(last_retry_errno) + ")" : "") +
           (server_fds_before >= 0 ? "; the server accepted " + std::to_string(accepted()) : ""));
    }
    // Waits for handshakes to finish, or is the pause before a retry.
    const int n = ::epoll_wait(ep, ready.data(), static_cast<int>(ready.size()), wait ? 1 : 0);
    for (int i = 0; i < n; ++i) {
      const std::size_t c = ready[static_cast<std::size_t>(i)].data.u64;
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fds[c], SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) fail("connect " + o.address + " (connection " + std::to_string(c) + "): " + errno_text(err));
      ::epoll_ctl(ep, EPOLL_CTL_DEL, fds[c], nullptr);
      --in_progress;
      ++established;
    }
  }
  ::close(ep);
  return fds;
}

// Byte i of message k on connection c: any reordering, loss or duplication shows.
inline std::uint8_t pattern(std::uint64_t c, std::uint64_t k, std::size_t i) {
  return static_cast<std::uint8_t>(k * 31 + c * 17 + i);
}

struct Conn {
  int fd = -1;
  std::uint64_t queued = 0;    // messages generated so far
  std::uint64_t received = 0;  // echoed bytes verified so far
  std::vector<char> out;       // generated but not yet taken by the kernel
  std::size_t out_off = 0;
  bool want_out = false;
  std::vector<std::uint64_t> queued_at;  // by message number % pipeline
  bool echoed_in_window = false;
};

// What the threads share. The window is unknown (never) until every connection
// has been echoed once; then the main thread publishes it. Messages whose echo
// completes (the time epoll_wait returned) in [measure_from, end) count.
struct Shared {
  static constexpr std::uint64_t kNever = UINT64_MAX;
  std::atomic<std::uint64_t> warmup_from{kNever};
  std::atomic<std::uint64_t> measure_from{kNever};
  std::atomic<std::uint64_t> end{kNever};
  std::atomic<std::size_t> answered{0};  // connections echoed at least once
};

// One load thread: connections [first, first + fds.size()) on its own epoll.
class Worker {
 public:
  Worker(const Options& o, std::size_t first, std::vector<int> fds, Shared& shared)
      : o_(o), first_(first), shared_(shared) {
    conns_.resize(fds.size());
    for (std::size_t i = 0; i < fds.size(); ++i) conns_[i].fd = fds[i];
  }

  void run() {
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) fail("epoll_create1: " + errno_text(errno));
    for (std::size_t c = 0; c < conns_.size(); ++c) {
      conns_[c].queued_at.resize(static_cast<std::size_t>(o_.pipeline));
      epoll_event ev{.events = EPOLLIN, .data = {.u64 = c}};
      if (::epoll_ctl(ep_, EPOLL_CTL_ADD, conns_[c].fd, &ev) < 0) fail("epoll_ctl: " + errno_text(errno));
    }
    const std::uint64_t start = now_ns();
    for (std::size_t c = 0; c < conns_.size(); ++c) queue(c, static_cast<std::uint64_t>(o_.pipeline), start);
    last_progress_ = start;

    std::vector<epoll_event> events(conns_.size());
    std::vector<char> in(64 * 1024);
    for (;;) {
      const int n = ::epoll_wait(ep_, events.data(), static_cast<int>(events.size()), 100);
      if (n < 0 && errno != EINTR) fail("epoll_wait: " + errno_text(errno));
      const std::uint64_t now = now_ns();
      if (now >= shared_.end.load(std::memory_order_relaxed)) break;
      warmup_from_ = shared_.warmup_from.load(std::memory_order_relaxed);
      measure_from_ = shared_.measure_from.load(std::memory_order_relaxed);
      if (now - last_progress_ > 5'000'000'000u) fail("no echo for 5 s from " + o_.address);
      for (int i = 0; i < n; ++i) {
        const std::size_t c = events[static_cast<std::size_t>(i)].data.u64;
        const std::uint32_t what = events[static_cast<std::size_t>(i)].events;
        if (what & (EPOLLIN | EPOLLERR | EPOLLHUP)) receive(c, in, now);
        if ((what & EPOLLOUT) && conns_[c].want_out) flush(c);
      }
    }
    for (const Conn& conn : conns_) silent_ += conn.echoed_in_window ? 0 : 1;
  }

  [[nodiscard]] const Histogram& rtt() const { return rtt_; }
  [[nodiscard]] std::uint64_t messages() const { return messages_; }
  [[nodiscard]] std::size_t silent() const { return silent_; }
  [[nodiscard]] std::uint64_t recvs() const { return recvs_; }
  [[nodiscard]] std::uint64_t recv_bytes() const { return recv_bytes_; }

 private:
  void receive(std::size_t c, std::vector<char>& in, std::uint64_t now) {
    Conn& conn = conns_[c];
    const std::uint64_t id = first_ + c;  // the pattern's connection number
    const ssize_t r = ::recv(conn.fd, in.data(), in.size(), 0);
    if (r == 0) fail("the server closed connection " + std::to_string(id) + " (" + o_.address + ")");
    if (r < 0) {
      if (errno == EAGAIN || errno == EINTR) return;
      fail("recv from " + o_.address + ": " + errno_text(errno));
    }
    const std::size_t size = o_.message_size;
    // Message by message, so the inner loop is a plain (vectorised) byte compare.
    for (std::size_t done = 0; done < static_cast<std::size_t>(r);) {
      const std::uint64_t at = conn.received + done;
      const std::size_t offset = at % size;
      const std::size_t n = std::min(size - offset, static_cast<std::size_t>(r) - done);
      const std::uint8_t base = pattern(id, at / size, 0);
      unsigned bad = 0;
      for (std::size_t i = 0; i < n; ++i) {
        bad |= static_cast<std::uint8_t>(in[done + i]) ^ static_cast<std::uint8_t>(base + offset + i);
      }
      if (bad != 0) fail("wrong byte echoed on connection " + std::to_string(id) + " near offset " + std::to_string(at));
      done += n;
    }
    if (now >= measure_from_) {
      ++recvs_;
      recv_bytes_ += static_cast<std::uint64_t>(r);
    }
    const std::uint64_t done_before = conn.received / size;
    conn.received += static_cast<std::uint64_t>(r);
    const std::uint64_t done_after = conn.received / size;
    if (done_after > conn.queued) fail("more bytes echoed than sent on connection " + std::to_string(id));
    if (done_after == done_before) return;
    last_progress_ = now;
    if (done_before == 0) shared_.answered.fetch_add(1, std::memory_order_relaxed);
    if (now >= measure_from_) {
      conn.echoed_in_window = true;
      messages_ += done_after - done_before;
      // Messages queued while connections were still being answered waited
      // behind that convoy: their round trips are the start-up's, not the load's.
      for (std::uint64_t k = done_before; k < done_after; ++k) {
        const std::uint64_t queued_at = conn.queued_at[k % conn.queued_at.size()];
        if (queued_at >= warmup_from_) rtt_.add(now - queued_at);
      }
    }
    queue(c, done_after - done_before, now);
  }

  void queue(std::size_t c, std::uint64_t count, std::uint64_t now) {
    Conn& conn = conns_[c];
    const std::size_t size = o_.message_size;
    if (conn.out_off == conn.out.size()) {
      conn.out.clear();
      conn.out_off = 0;
    }
    std::size_t at = conn.out.size();
    conn.out.resize(at + count * size);
    for (std::uint64_t m = 0; m < count; ++m, ++conn.queued, at += size) {
      conn.queued_at[conn.queued % conn.queued_at.size()] = now;
      const std::uint8_t base = pattern(first_ + c, conn.queued, 0);
      for (std::size_t i = 0; i < size; ++i)
        conn.out[at + i] = static_cast<char>(static_cast<std::uint8_t>(base + i));
    }
    if (!conn.want_out) flush(c);
  }

  void flush(std::size_t c) {
    Conn& conn = conns_[c];
    while (conn.out_off < conn.out.size()) {
      const ssize_t w =
          ::send(conn.fd, conn.out.data() + conn.out_off, conn.out.size() - conn.out_off, MSG_NOSIGNAL);
      if (w < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN) fail("send to " + o_.address + ": " + errno_text(errno));
        break;
      }
      conn.out_off += static_cast<std::size_t>(w);
    }
    const bool want = conn.out_off < conn.out.size();
    if (want != conn.want_out) {
      conn.want_out = want;
      epoll_event ev{.events = EPOLLIN | (want ? EPOLLOUT : 0u), .data = {.u64 = c}};
      if (::epoll_ctl(ep_, EPOLL_CTL_MOD, conn.fd, &ev) < 0) fail("epoll_ctl: " + errno_text(errno));
    }
  }

  const Options& o_;
  std::size_t first_;
  Shared& shared_;
  std::uint64_t warmup_from_ = Shared::kNever;  // this thread's copies
  std::uint64_t measure_from_ = Shared::kNever;
  std::vector<Conn> conns_;
  std::size_t silent_ = 0;  // connections with no echo inside the window
  int ep_ = -1;
  std::uint64_t last_progress_ = 0;
  Histogram rtt_;
  std::uint64_t messages_ = 0;  // echoes completed in the window
  std::uint64_t recvs_ = 0;  // in the measured window: the batching the servers caused
  std::uint64_t recv_bytes_ = 0;
};

double cpu_seconds(const rusage& ru) {
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

double self_cpu_seconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return cpu_seconds(ru);
}

// utime + stime of every thread of PID (/proc/PID/stat fields 14 and 15), in
// seconds; -1 if it cannot be read. Resolution: one clock tick (10 ms at 100 Hz).
double process_cpu_seconds(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto paren = text.rfind(')');  // the command name may hold spaces
  if (paren == std::string::npos) return -1;
  std::istringstream fields(text.substr(paren + 2));
  std::string skip;
  for (int field = 3; field < 14; ++field) fields >> skip;
  unsigned long long utime = 0, stime = 0;
  if (!(fields >> utime >> stime)) return -1;
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

long vmrss_kib(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("VmRSS:")) return std::stol(line.substr(6));
  }
  return -1;
}

// CPU use at one edge of the measured window.
struct Sample {
  std::uint64_t at = 0;
  double load_cpu = 0;
  double server_cpu = -1;
};

Sample sample(const Options& o) {
  Sample s;
  s.at = now_ns();
  s.load_cpu = self_cpu_seconds();
  if (o.server_pid > 0) s.server_cpu = process_cpu_seconds(o.server_pid);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  bench::raise_fd_limit();
  const bench::Target target = bench::parse_target(o.address);
  const std::uint64_t connect_start = now_ns();
  const std::uint64_t deadline = connect_start + static_cast<std::uint64_t>(o.connect_timeout_s * 1e9);
  std::vector<int> fds = connect_all(o, target);
  const std::uint64_t connected = now_ns();

  // Connections split evenly; each thread is a complete load on its share.
  Shared shared;
  std::vector<std::unique_ptr<Worker>> workers;
  const auto total = fds.size();
  const auto threads = static_cast<std::size_t>(o.threads);
  for (std::size_t t = 0; t < threads; ++t) {
    const std::size_t first = total * t / threads;
    const std::size_t last = total * (t + 1) / threads;
    workers.push_back(std::make_unique<Worker>(
        o, first,
        std::vector<int>(fds.begin() + static_cast<std::ptrdiff_t>(first),
                         fds.begin() + static_cast<std::ptrdiff_t>(last)),
        shared));
  }
  std::vector<std::thread> running;
  for (auto& w : workers) running.emplace_back([&w] { w->run(); });

  // This thread only coordinates: it waits for every connection's first echo,
  // publishes the window, then sleeps to each edge of it to sample CPU time.
  while (shared.answered.load(std::memory_order_relaxed) < total) {
    if (now_ns() > deadline) {
      fail("only " + std::to_string(shared.answered.load()) + " of " + std::to_string(total) + " connections to " +
           o.address + " were echoed within " + std::to_string(o.connect_timeout_s) +
           " s of connecting (--connect-timeout-seconds)");
    }
    sleep_until_ns(now_ns() + 1'000'000);
  }
  const std::uint64_t start = now_ns();
  const std::uint64_t measure_from = start + static_cast<std::uint64_t>(o.warmup_s * 1e9);
  const std::uint64_t end = measure_from + static_cast<std::uint64_t>(o.duration_s * 1e9);
  shared.warmup_from.store(start, std::memory_order_relaxed);
  shared.measure_from.store(measure_from, std::memory_order_relaxed);
  shared.end.store(end, std::memory_order_relaxed);
  sleep_until_ns(measure_from);
  const Sample before = sample(o);
  sleep_until_ns(end);
  const Sample after = sample(o);
  const long server_rss = o.server_pid > 0 ? vmrss_kib(o.server_pid) : -1;
  for (auto& t : running) t.join();

  Histogram rtt;
  std::uint64_t messages = 0;
  std::uint64_t recvs = 0;
  std::uint64_t recv_bytes = 0;
  std::size_t silent = 0;
  for (const auto& w : workers) {
    rtt.merge(w->rtt());
    messages += w->messages();
    recvs += w->recvs();
    recv_bytes += w->recv_bytes();
    silent += w->silent();
  }
  const double seconds = static_cast<double>(end - measure_from) / 1e9;
  const double sampled = static_cast<double>(after.at - before.at) / 1e9;
  std::string server;
  if (o.server_pid > 0 && before.server_cpu >= 0 && after.server_cpu >= 0) {
    char text[200];
    std::snprintf(text, sizeof text, ",\"server_cpu_s_window\":%.3f,\"server_cpu_window\":%.3f,\"server_vmrss_kib\":%ld",
                  after.server_cpu - before.server_cpu, (after.server_cpu - before.server_cpu) / sampled, server_rss);
    server = text;
  }
  std::printf(
      "{\"address\":\"%s\",\"connections\":%d,\"message_size\":%zu,\"pipeline\":%d,\"threads\":%d,"
      "\"connect_s\":%.3f,\"first_echo_s\":%.3f,\"warmup_s\":%.3f,\"measured_s\":%.3f,\"messages\":%" PRIu64
      ",\"msgs_per_s\":%.0f,\"rtt\":\"full round trip per message "
      "(queued by the load -> echo fully received by the load), of the messages completed in the window "
      "that were queued after every connection had been answered\",\"rtt_messages\":%" PRIu64
      ",\"rtt_p50_us\":%.1f,\"rtt_p99_us\":%.1f,\"rtt_max_us\":%.1f,\"connections_silent_in_window\":%zu,\"load_cpu_s\":%.3f,\"load_cpu_window\":%.3f,"
      "\"window_sampled_s\":%.3f,\"load_bytes_per_recv\":%.0f%s}\n",
      o.address.c_str(), o.connections, o.message_size, o.pipeline, o.threads,
      static_cast<double>(connected - connect_start) / 1e9, static_cast<double>(start - connected) / 1e9, o.warmup_s,
      seconds, messages, static_cast<double>(messages) / seconds, rtt.total(), rtt.percentile(0.50) / 1e3,
      rtt.percentile(0.99) / 1e3, static_cast<double>(rtt.max()) / 1e3, silent, self_cpu_seconds(),
      (after.load_cpu - before.load_cpu) / sampled, sampled,
      recvs > 0 ? static_cast<double>(recv_bytes) / static_cast<double>(recvs) : 0.0, server.c_str());
  return 0;
}
