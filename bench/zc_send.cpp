// zc_send: the two ends of `make bench-zc` (scripts/bench-zc.sh, docs/BENCHMARKS.md):
// large writes over one TCP connection, with and without io_uring zero-copy sends.
//
//   zc_send receive --listen tcp://IPV4:PORT [--verify --size N]
//   zc_send send --mode MODE --address tcp://IPV4:PORT --size N --total N
//                [--queue-limit 4194304] [--timeout-seconds 50]
//
// `receive` is the sink: a plain blocking recv() loop into a 1 MiB buffer, no
// libsockit, in a process of its own, so what is measured is the sender. It accepts
// one connection, discards (or, with --verify, checks) every byte, closes at EOF
// and prints one JSON line. Before accepting it prints "zc_send: listening on ADDR"
// on stderr (port 0 = any free port), which the script waits for.
//
// `send` pushes `total` bytes in messages of `size` bytes, then closes gracefully and
// waits for the receiver's FIN. MODE:
//   raw              the floor: a blocking send(MSG_NOSIGNAL) loop, no library
//   epoll            EventLoop on epoll + net::Connection (framing raw)
//   uring-plain      io_uring, send_zc_threshold = 0 (zero copy off)
//   uring-zc         io_uring, threshold 16 KiB, adaptive (today's LoopOptions default)
//   uring-zc-forced  io_uring, threshold 16 KiB, adaptive off: zero copy on every large send
// Library modes keep the connection's output queue full but bounded: after every
// loop turn (that is, after each send completion) more messages are queued until
// queued_output() reaches --queue-limit. Prints one JSON line: wall time from the
// first send to the close (on_close, or the FIN for raw), throughput, the sender's
// CPU time over the same window (getrusage RUSAGE_SELF, user + sys: the whole
// process, io_uring's worker threads included), its minor page faults and the
// loop's zero-copy counters.
// MB and GB are 10^6 and 10^9 bytes.
//
// Exit status: 0 done, 1 failed (a line on stderr), 3 skipped: the backend or the
// zero-copy feature asked for is not available here (the kernel refused it); the
// mode would otherwise be measured under the wrong name.
//
// Content: every message is the same pattern of 64-bit words except word 0, which
// is the message's sequence number, so the receiver (--verify) sees any byte that
// is lost, reordered, or changed after it was queued. The last is what a zero-copy
// send gets wrong if the pages are reused before the kernel has let go of them.
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "bench_common.hpp"
#include "sockit/event/event_loop.hpp"
#include "sockit/net/connection.hpp"

namespace {

using bench::fail;

constexpr int kSkipped = 3;
constexpr std::size_t kReceiveBuffer = 1u << 20;

[[noreturn]] void skip(const std::string& why) {
  std::fprintf(stderr, "zc_send: skipped: %s\n", why.c_str());
  std::exit(kSkipped);
}

std::string errno_text() { return std::strerror(errno); }

std::uint64_t now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(ts.tv_nsec);
}

double seconds(const timeval& tv) {
  return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
}

struct Usage {
  double user_s = 0;
  double sys_s = 0;
  long voluntary_switches = 0;
  long involuntary_switches = 0;
  long minor_faults = 0;  // fresh pages touched: buffers that grow or are given back and taken again
};

Usage usage_now() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return {seconds(ru.ru_utime), seconds(ru.ru_stime), ru.ru_nvcsw, ru.ru_nivcsw, ru.ru_minflt};
}

// One message: `size` bytes as 64-bit words, word 0 the sequence number, word j the
// pattern below. Both ends build it; the receiver compares against it.
class Message {
 public:
  explicit Message(std::size_t size) : words_(size / 8) {
    for (std::size_t j = 1; j < words_.size(); ++j)
      words_[j] = 0x5a5a'5a5a'5a5a'5a5aULL ^ (j * 0x9e37'79b9'7f4a'7c15ULL);
  }
  void stamp(std::uint64_t seq) { words_[0] = seq; }
  [[nodiscard]] std::span<const std::byte> bytes() const { return std::as_bytes(std::span(words_)); }

 private:
  std::vector<std::uint64_t> words_;
};

std::size_t parse_size(const std::string& flag, const std::string& value) {
  std::size_t used = 0;
  const unsigned long long v = std::stoull(value, &used);
  if (used != value.size()) fail("not a number for " + flag + ": " + value);
  return static_cast<std::size_t>(v);
}

// --- receive ----------------------------------------------------------------------------

struct ReceiveOptions {
  std::string listen;
  bool verify = false;
  std::size_t size = 0;  // message size, for --verify
};

// Checks a received chunk at stream offset `offset` against the pattern.
class Verifier {
 public:
  explicit Verifier(std::size_t size) : size_(size), message_(size) {}

  void check(const std::byte* p, std::size_t n) {
    const auto pattern = message_.bytes();
    while (n > 0) {
      const std::uint64_t seq = offset_ / size_;
      const std::size_t in_message = offset_ % size_;
      const std::size_t take = std::min(n, size_ - in_message);
      std::size_t i = 0;
      // Word 0: the sequence number, little-endian as the sender stored it.
      for (; i < take && in_message + i < 8; ++i) {
        const auto want = static_cast<std::byte>(seq >> (8 * (in_message + i)));
        if (p[i] != want) mismatch(offset_ + i, p[i], want);
      }
      if (i < take && std::memcmp(p + i, pattern.data() + in_message + i, take - i) != 0) {
        for (; i < take; ++i)
          if (p[i] != pattern[in_message + i]) mismatch(offset_ + i, p[i], pattern[in_message + i]);
      }
      p += take;
      n -= take;
      offset_ += take;
    }
  }

 private:
  [[noreturn]] void mismatch(std::uint64_t at, std::byte got, std::byte want) const {
    fail("corrupt stream at byte " + std::to_string(at) + " (message " + std::to_string(at / size_) +
         ", byte " + std::to_string(at % size_) + "): got " + std::to_string(static_cast<int>(got)) +
         ", want " + std::to_string(static_cast<int>(want)));
  }
  std::size_t size_;
  Message message_;
  std::uint64_t offset_ = 0;
};

int run_receive(const ReceiveOptions& o) {
  const bench::Target t = bench::parse_target(o.listen);
  if (!t.tcp) fail("receive: --listen must be tcp://IPV4:PORT");
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener < 0) fail("socket: " + errno_text());
  const int one = 1;
  ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(listener, reinterpret_cast<const sockaddr*>(&t.addr), t.len) < 0)
    fail("bind " + o.listen + ": " + errno_text());
  if (::listen(listener, 1) < 0) fail("listen: " + errno_text());
  sockaddr_in bound{};
  socklen_t len = sizeof bound;
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&bound), &len);
  char host[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &bound.sin_addr, host, sizeof host);
  std::fprintf(stderr, "zc_send: listening on tcp://%s:%u\n", host, ntohs(bound.sin_port));
  std::fflush(stderr);

  // Bounded: the sender has 30 s to connect and may not stall for 30 s.
  pollfd pfd{.fd = listener, .events = POLLIN, .revents = 0};
  if (::poll(&pfd, 1, 30'000) <= 0) fail("receive: no connection within 30 s");
  const int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd < 0) fail("accept: " + errno_text());
  ::close(listener);
  const timeval stall{.tv_sec = 30, .tv_usec = 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &stall, sizeof stall);

  std::unique_ptr<Verifier> verifier;
  if (o.verify) verifier = std::make_unique<Verifier>(o.size);
  const auto buffer = std::make_unique<std::byte[]>(kReceiveBuffer);
  std::uint64_t bytes = 0, calls = 0;
  const std::uint64_t start = now_ns();
  for (;;) {
    const ssize_t n = ::recv(fd, buffer.get(), kReceiveBuffer, 0);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        fail("receive: nothing for 30 s after " + std::to_string(bytes) + " bytes");
      fail("recv after " + std::to_string(bytes) + " bytes: " + errno_text());
    }
    ++calls;
    bytes += static_cast<std::uint64_t>(n);
    if (verifier) verifier->check(buffer.get(), static_cast<std::size_t>(n));
  }
  const double wall = static_cast<double>(now_ns() - start) / 1e9;
  ::close(fd);
  const Usage u = usage_now();
  std::printf("{\"bytes\":%" PRIu64 ",\"verified\":%s,\"recv_calls\":%" PRIu64
              ",\"bytes_per_recv\":%.0f,\"wall_s\":%.4f,\"cpu_s\":%.4f}\n",
              bytes, o.verify ? "true" : "false", calls,
              calls > 0 ? static_cast<double>(bytes) / static_cast<double>(calls) : 0.0, wall,
              u.user_s + u.sys_s);
  return 0;
}

// --- send -----------------------------------------------------------------------------

struct SendOptions {
  std::string mode;
  std::string address;
  std::size_t size = 0;
  std::size_t total = 0;
  std::size_t queue_limit = 4u << 20;
  double timeout_s = 50;
};

// What a run measured; the loop fields stay empty for raw.
struct Outcome {
  std::uint64_t bytes_sent = 0;
  std::uint64_t start_ns = 0;
  std::uint64_t end_ns = 0;
  Usage before, after;
  std::string backend = "none";
  std::string features;
  std::size_t zc_threshold = 0;
  bool zc_adaptive = false;
  sockit::event::LoopStats loop;
};

void send_all(int fd, std::span<const std::byte> bytes, std::uint64_t sent_so_far) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        fail("raw: send blocked for 10 s after " + std::to_string(sent_so_far) + " bytes");
      fail("raw: send after " + std::to_string(sent_so_far) + " bytes: " + errno_text());
    }
    bytes = bytes.subspan(static_cast<std::size_t>(n));
    sent_so_far += static_cast<std::uint64_t>(n);
  }
}

// The floor: what the kernel costs with no library at all.
Outcome run_raw(const SendOptions& o, const bench::Target& t) {
  const int fd = bench::connect_to(t, /*nonblocking=*/false);
  if (fd < 0) fail("connect " + o.address + ": " + errno_text());
  // Bounded like the library modes: a stalled receiver fails the run.
  const timeval stall{.tv_sec = 10, .tv_usec = 0};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &stall, sizeof stall);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &stall, sizeof stall);
  Message message(o.size);
  const std::uint64_t messages = o.total / o.size;
  Outcome r;
  r.before = usage_now();
  r.start_ns = now_ns();
  for (std::uint64_t seq = 0; seq < messages; ++seq) {
    message.stamp(seq);
    send_all(fd, message.bytes(), r.bytes_sent);
    r.bytes_sent += o.size;
  }
  // Graceful close, as Connection::close() does it: FIN, then wait for the peer's.
  if (::shutdown(fd, SHUT_WR) < 0) fail("raw: shutdown: " + errno_text());
  std::byte b[64];
  for (;;) {
    const ssize_t n = ::recv(fd, b, sizeof b, 0);
    if (n == 0) break;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("raw: waiting for the receiver's FIN: " + errno_text());
    fail("raw: the receiver sent data");
  }
  r.end_ns = now_ns();
  r.after = usage_now();
  ::close(fd);
  return r;
}

Outcome run_library(const SendOptions& o, const bench::Target& t) {
  using namespace sockit;
  event::LoopOptions lo;
  const bool zc_mode = o.mode.starts_with("uring-zc");
  if (o.mode == "epoll") {
    lo.backend = "epoll";
  } else {
    lo.backend = "io_uring";
    lo.send_zc_threshold = zc_mode ? 16u * 1024 : 0;
    lo.send_zc_adaptive = o.mode != "uring-zc-forced";
  }
  auto created = event::EventLoop::create(lo);
  if (!created) {
    if (lo.backend == "io_uring") skip("io_uring: " + created.error().message());
    fail("EventLoop::create(" + lo.backend + "): " + created.error().message());
  }
  const std::unique_ptr<event::EventLoop> loop = std::move(*created);
  const event::BackendInfo& info = loop->backend();
  if (info.name != lo.backend) skip("asked for " + lo.backend + ", the loop runs " + info.name);
  Outcome r;
  r.backend = info.name;
  for (const auto& f : info.features) r.features += (r.features.empty() ? "" : " ") + f;
  r.zc_threshold = lo.send_zc_threshold;
  r.zc_adaptive = lo.send_zc_adaptive;
  if (zc_mode && std::ranges::find(info.features, std::string("send-zc")) == info.features.end()) {
    std::string why = "io_uring has no send-zc";
    for (const auto& f : info.fallbacks)
      if (f.starts_with("send-zc")) why += " (" + f + ")";
    skip(why);
  }

  const int fd = bench::connect_to(t, /*nonblocking=*/false);
  if (fd < 0) fail("connect " + o.address + ": " + errno_text());
  // The marks sit above what top_up() ever queues (< limit + size), so backpressure
  // never pauses the (idle) receive side: this loop is the flow control.
  net::ConnectionOptions co{.framing = net::Framing::raw(),
                            .high_water_mark = o.queue_limit + o.size,
                            .low_water_mark = o.queue_limit / 2,
                            .max_output_bytes = o.queue_limit + 2 * o.size};
  auto made = net::Connection::create(*loop, Fd(fd), co);
  if (!made) fail("Connection::create: " + made.error().message());
  const std::shared_ptr<net::Connection> conn = std::move(*made);

  bool closing = false, closed = false;
  std::error_code reason;
  conn->on_close([&](net::Connection&, std::error_code ec) {
    closed = true;
    reason = ec;
    r.end_ns = now_ns();
  });
  conn->start();

  Message message(o.size);
  const std::uint64_t messages = o.total / o.size;
  std::uint64_t seq = 0;
  auto top_up = [&] {
    while (seq < messages && conn->queued_output() < o.queue_limit) {
      message.stamp(seq);
      if (auto s = conn->send(message.bytes()); !s)
        fail("Connection::send, message " + std::to_string(seq) + ": " + s.error().message());
      ++seq;
    }
    if (seq == messages && !closing) {
      closing = true;
      conn->close();  // graceful: flush, FIN, wait for the receiver's FIN
    }
  };

  r.before = usage_now();
  r.start_ns = now_ns();
  const std::uint64_t deadline = r.start_ns + static_cast<std::uint64_t>(o.timeout_s * 1e9);
  top_up();
  while (!closed) {
    if (auto s = loop->run_once(std::chrono::milliseconds(100)); !s) fail("run_once: " + s.error().message());
    if (!closed) top_up();
    if (now_ns() > deadline)
      fail("not done after " + std::to_string(o.timeout_s) + " s: " +
           std::to_string(conn->stats().bytes_out) + " of " + std::to_string(o.total) + " bytes sent");
  }
  r.after = usage_now();
  if (reason) fail("the connection closed with an error: " + reason.message());
  r.bytes_sent = conn->stats().bytes_out;
  if (r.bytes_sent != o.total)
    fail("closed after " + std::to_string(r.bytes_sent) + " of " + std::to_string(o.total) + " bytes");
  r.loop = loop->stats();
  return r;
}

int run_send(const SendOptions& o) {
  static const std::vector<std::string> modes{"raw", "epoll", "uring-plain", "uring-zc", "uring-zc-forced"};
  if (std::ranges::find(modes, o.mode) == modes.end()) fail("unknown --mode " + o.mode);
  const bench::Target t = bench::parse_target(o.address);
  if (!t.tcp) fail("send: --address must be tcp://IPV4:PORT");
  const Outcome r = o.mode == "raw" ? run_raw(o, t) : run_library(o, t);
  const double wall = static_cast<double>(r.end_ns - r.start_ns) / 1e9;
  const double user = r.after.user_s - r.before.user_s;
  const double sys = r.after.sys_s - r.before.sys_s;
  const double gb = static_cast<double>(r.bytes_sent) / 1e9;
  std::printf("{\"mode\":\"%s\",\"address\":\"%s\",\"size\":%zu,\"total\":%zu,\"bytes_sent\":%" PRIu64
              ",\"wall_s\":%.4f,\"mb_per_s\":%.1f,\"cpu_user_s\":%.4f,\"cpu_sys_s\":%.4f,\"cpu_s\":%.4f,"
              "\"cpu_s_per_gb\":%.4f,"
              "\"voluntary_switches\":%ld,\"involuntary_switches\":%ld,\"minor_faults\":%ld,\"queue_limit\":%"
              "zu,\"backend\":\"%s\","
              "\"features\":\"%s\",\"send_zc_threshold\":%zu,\"send_zc_adaptive\":%s,\"zc_sends\":%" PRIu64
              ",\"zc_copied\":%" PRIu64 ",\"zc_refused\":%" PRIu64 ",\"loop_turns\":%" PRIu64
              ",\"loop_waits\":%" PRIu64 "}\n",
              o.mode.c_str(), o.address.c_str(), o.size, o.total, r.bytes_sent, wall, gb * 1e3 / wall, user,
              sys, user + sys, (user + sys) / gb, r.after.voluntary_switches - r.before.voluntary_switches,
              r.after.involuntary_switches - r.before.involuntary_switches,
              r.after.minor_faults - r.before.minor_faults, o.queue_limit, r.backend.c_str(),
              r.features.c_str(), r.zc_threshold, r.zc_adaptive ? "true" : "false", r.loop.zc_sends,
              r.loop.zc_copied, r.loop.zc_refused, r.loop.turns, r.loop.syscalls_wait);
  return 0;
}

[[noreturn]] void usage() {
  fail(
      "usage: zc_send receive --listen tcp://IPV4:PORT [--verify --size N]\n"
      "       zc_send send --mode raw|epoll|uring-plain|uring-zc|uring-zc-forced --address tcp://IPV4:PORT\n"
      "                    --size N --total N [--queue-limit 4194304] [--timeout-seconds 50]");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) usage();
  const std::string command = argv[1];
  ReceiveOptions ro;
  SendOptions so;
  try {
    for (int i = 2; i < argc; ++i) {
      const std::string flag = argv[i];
      if (flag == "--verify") {
        ro.verify = true;
        continue;
      }
      if (i + 1 >= argc) fail("missing value for " + flag);
      const std::string value = argv[++i];
      if (flag == "--listen")
        ro.listen = value;
      else if (flag == "--mode")
        so.mode = value;
      else if (flag == "--address")
        so.address = value;
      else if (flag == "--size")
        ro.size = so.size = parse_size(flag, value);
      else if (flag == "--total")
        so.total = parse_size(flag, value);
      else if (flag == "--queue-limit")
        so.queue_limit = parse_size(flag, value);
      else if (flag == "--timeout-seconds")
        so.timeout_s = std::stod(value);
      else
        fail("unknown flag " + flag);
    }
  } catch (const std::logic_error& e) {  // std::stoull / std::stod on a bad value
    fail(std::string("bad number: ") + e.what());
  }
  // Whole 64-bit words, whole messages: the pattern and the sequence number need both.
  const auto sizes_ok = [](std::size_t size, std::size_t total) {
    return size >= 8 && size % 8 == 0 && total >= size && total % size == 0;
  };
  if (command == "receive") {
    if (ro.listen.empty() || (ro.verify && (ro.size < 8 || ro.size % 8 != 0))) usage();
    return run_receive(ro);
  }
  if (command == "send") {
    if (so.mode.empty() || so.address.empty() || !sizes_ok(so.size, so.total) || so.queue_limit == 0 ||
        so.timeout_s <= 0) {
      std::fprintf(stderr, "zc_send: --size must be a multiple of 8, --total a multiple of --size\n");
      usage();
    }
    return run_send(so);
  }
  usage();
}
