// The load program of bench-echo: N connections to an echo server, each keeping
// `pipeline` fixed-size messages in flight (it sends `pipeline` messages, then one
// more for every message whose echo has fully come back), checking every echoed
// byte. Prints one JSON line on stdout: messages/s over the measured window (after
// the warm-up) and the per-message round trip (queued here -> echo fully received
// here: a full round trip, not one way) from a log-linear histogram.
//
// One thread, raw non-blocking sockets and level-triggered epoll, no libsockit: it
// should measure the servers, not itself, and be the same program for all of them.
// The replacements for all messages completed by one recv() go out in one send(),
// so the load spends about one recv and one send per wake-up per connection, as a
// server does. Bounded: it exits after warm-up + duration, and fails (exit 1, a
// line on stderr) if the server closes a connection, errors, corrupts a byte or
// stops answering for 5 s.
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cinttypes>
#include <cstdint>
#include <string>
#include <vector>

#include "bench_common.hpp"

namespace {

using bench::fail;

std::uint64_t now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(ts.tv_nsec);
}

// Log-linear: 16 sub-buckets per power of two, so a percentile is within ~3%.
class Histogram {
 public:
  void add(std::uint64_t v) {
    ++counts_[index(v)];
    ++total_;
    max_ = std::max(max_, v);
  }
  [[nodiscard]] std::uint64_t total() const { return total_; }
  [[nodiscard]] std::uint64_t max() const { return max_; }
  // The middle of the bucket holding the q-th value.
  [[nodiscard]] double percentile(double q) const {
    if (total_ == 0) return 0;
    const auto rank = static_cast<std::uint64_t>(q * static_cast<double>(total_ - 1)) + 1;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= rank) return (lower(i) + lower(i + 1)) / 2.0;
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
    else
      fail("unknown flag " + flag);
  }
  if (o.address.empty() || o.connections < 1 || o.message_size < 1 || o.pipeline < 1 || o.duration_s <= 0 ||
      o.warmup_s < 0) {
    fail(
        "usage: echo_load --address unix:PATH|tcp://H:P [--connections 100] [--message-size 64] "
        "[--pipeline 16] [--duration-seconds 5] [--warmup-seconds 1]");
  }
  return o;
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
};

class Load {
 public:
  explicit Load(const Options& o) : o_(o), conns_(static_cast<std::size_t>(o.connections)) {}

  void run() {
    const bench::Target target = bench::parse_target(o_.address);
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) fail("epoll_create1: " + std::string(std::strerror(errno)));
    for (std::size_t c = 0; c < conns_.size(); ++c) {
      Conn& conn = conns_[c];
      conn.fd = bench::connect_to(target, /*nonblocking=*/true);
      if (conn.fd < 0) fail("connect " + o_.address + ": " + std::strerror(errno));
      conn.queued_at.resize(static_cast<std::size_t>(o_.pipeline));
      epoll_event ev{.events = EPOLLIN, .data = {.u64 = c}};
      if (::epoll_ctl(ep_, EPOLL_CTL_ADD, conn.fd, &ev) < 0)
        fail("epoll_ctl: " + std::string(std::strerror(errno)));
    }
    const std::uint64_t start = now_ns();
    measure_from_ = start + static_cast<std::uint64_t>(o_.warmup_s * 1e9);
    end_ = measure_from_ + static_cast<std::uint64_t>(o_.duration_s * 1e9);
    for (std::size_t c = 0; c < conns_.size(); ++c) queue(c, static_cast<std::uint64_t>(o_.pipeline), start);
    last_progress_ = start;

    std::vector<epoll_event> events(conns_.size());
    std::vector<char> in(64 * 1024);
    for (;;) {
      const int n = ::epoll_wait(ep_, events.data(), static_cast<int>(events.size()), 100);
      if (n < 0 && errno != EINTR) fail("epoll_wait: " + std::string(std::strerror(errno)));
      const std::uint64_t now = now_ns();
      if (now >= end_) break;
      if (now - last_progress_ > 5'000'000'000u) fail("no echo for 5 s from " + o_.address);
      for (int i = 0; i < n; ++i) {
        const std::size_t c = events[static_cast<std::size_t>(i)].data.u64;
        const std::uint32_t what = events[static_cast<std::size_t>(i)].events;
        if (what & (EPOLLIN | EPOLLERR | EPOLLHUP)) receive(c, in, now);
        if ((what & EPOLLOUT) && conns_[c].want_out) flush(c);
      }
    }
    const double seconds = static_cast<double>(now_ns() - measure_from_) / 1e9;
    report(seconds);
  }

 private:
  void receive(std::size_t c, std::vector<char>& in, std::uint64_t now) {
    Conn& conn = conns_[c];
    const ssize_t r = ::recv(conn.fd, in.data(), in.size(), 0);
    if (r == 0) fail("the server closed connection " + std::to_string(c) + " (" + o_.address + ")");
    if (r < 0) {
      if (errno == EAGAIN || errno == EINTR) return;
      fail("recv from " + o_.address + ": " + std::strerror(errno));
    }
    const std::size_t size = o_.message_size;
    // Message by message, so the inner loop is a plain (vectorised) byte compare.
    for (std::size_t done = 0; done < static_cast<std::size_t>(r);) {
      const std::uint64_t at = conn.received + done;
      const std::size_t offset = at % size;
      const std::size_t n = std::min(size - offset, static_cast<std::size_t>(r) - done);
      const std::uint8_t base = pattern(c, at / size, 0);
      unsigned bad = 0;
      for (std::size_t i = 0; i < n; ++i) {
        bad |= static_cast<std::uint8_t>(in[done + i]) ^ static_cast<std::uint8_t>(base + offset + i);
      }
      if (bad != 0)
        fail("wrong byte echoed on connection " + std::to_string(c) + " near offset " + std::to_string(at));
      done += n;
    }
    if (now >= measure_from_) {
      ++recvs_;
      recv_bytes_ += static_cast<std::uint64_t>(r);
    }
    const std::uint64_t done_before = conn.received / size;
    conn.received += static_cast<std::uint64_t>(r);
    const std::uint64_t done_after = conn.received / size;
    if (done_after > conn.queued) fail("more bytes echoed than sent on connection " + std::to_string(c));
    if (done_after == done_before) return;
    last_progress_ = now;
    if (now >= measure_from_) {
      for (std::uint64_t k = done_before; k < done_after; ++k) {
        rtt_.add(now - conn.queued_at[k % conn.queued_at.size()]);
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
      const std::uint8_t base = pattern(c, conn.queued, 0);
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
        if (errno != EAGAIN) fail("send to " + o_.address + ": " + std::strerror(errno));
        break;
      }
      conn.out_off += static_cast<std::size_t>(w);
    }
    const bool want = conn.out_off < conn.out.size();
    if (want != conn.want_out) {
      conn.want_out = want;
      epoll_event ev{.events = EPOLLIN | (want ? EPOLLOUT : 0u), .data = {.u64 = c}};
      if (::epoll_ctl(ep_, EPOLL_CTL_MOD, conn.fd, &ev) < 0)
        fail("epoll_ctl: " + std::string(std::strerror(errno)));
    }
  }

  void report(double seconds) const {
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    const double cpu = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                       static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    std::printf(
        "{\"address\":\"%s\",\"connections\":%d,\"message_size\":%zu,\"pipeline\":%d,\"warmup_s\":%.3f,"
        "\"measured_s\":%.3f,\"messages\":%" PRIu64
        ",\"msgs_per_s\":%.0f,\"rtt\":\"full round trip per message "
        "(queued by the load -> echo fully received by the load)\",\"rtt_p50_us\":%.1f,\"rtt_p99_us\":%.1f,"
        "\"rtt_max_us\":%.1f,\"load_cpu_s\":%.3f,\"load_bytes_per_recv\":%.0f}\n",
        o_.address.c_str(), o_.connections, o_.message_size, o_.pipeline, o_.warmup_s, seconds, rtt_.total(),
        static_cast<double>(rtt_.total()) / seconds, rtt_.percentile(0.50) / 1e3, rtt_.percentile(0.99) / 1e3,
        static_cast<double>(rtt_.max()) / 1e3, cpu,
        recvs_ > 0 ? static_cast<double>(recv_bytes_) / static_cast<double>(recvs_) : 0.0);
  }

  Options o_;
  std::vector<Conn> conns_;
  int ep_ = -1;
  std::uint64_t measure_from_ = 0;
  std::uint64_t end_ = 0;
  std::uint64_t last_progress_ = 0;
  Histogram rtt_;
  std::uint64_t recvs_ = 0;  // in the measured window: the batching the servers caused
  std::uint64_t recv_bytes_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse(argc, argv);
  bench::raise_fd_limit();
  Load load(options);
  load.run();
  return 0;
}
