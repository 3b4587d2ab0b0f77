#include "bench_run.hpp"

#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/core.h>

#include "errors.hpp"
#include "sockit/stream_socket.hpp"

namespace sockit::cli {
namespace {

using Clock = std::chrono::steady_clock;

void pin_to(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  // Best effort: unpinned figures are noisier, not wrong.
  (void)::sched_setaffinity(0, sizeof set, &set);
}

// Kills and reaps the child when the measurement is over, whichever way it ends.
class ChildGuard {
 public:
  explicit ChildGuard(pid_t pid) : pid_(pid) {}
  ChildGuard(const ChildGuard&) = delete;
  ChildGuard& operator=(const ChildGuard&) = delete;
  ~ChildGuard() { stop(); }
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }

 private:
  pid_t pid_;
};

std::vector<std::byte> pattern(std::size_t size) {
  std::vector<std::byte> bytes(size);
  for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<std::byte>('a' + i % 26);
  return bytes;
}

// The peer: echoes (RTT) or sends for ever (throughput) until it is killed. It
// reports an error itself only if the parent is not simply gone.
[[noreturn]] void run_child(const BenchCase& c, BenchLink link) {
  const std::string what = fmt::format("bench {} {}", c.transport->name, c.path.name());
  auto end = make_bench_end(*c.transport, c.path, std::move(link.child_in), std::move(link.child_out), {});
  std::error_code failure;
  if (!end) {
    failure = end.error();
  } else {
    std::vector<std::byte> buffer = pattern(c.message_size);
    for (;;) {
      std::size_t size = buffer.size();
      if (c.measure == BenchMeasure::rtt) {
        auto n = (*end)->receive(buffer);
        if (!n) {
          failure = n.error();
          break;
        }
        size = *n;
      }
      if (auto s = (*end)->send(std::span(buffer).first(size)); !s) {
        failure = s.error();
        break;
      }
    }
  }
  const bool parent_gone = failure == errc::end_of_stream || failure == std::errc::broken_pipe ||
                           failure == std::errc::connection_reset || failure == errc::peer_dead;
  if (!parent_gone) print_error(what, "peer", failure);
  std::fflush(stderr);
  ::_exit(kExitFailure);
}

// Until `when`: asleep while it is far (the OS timer overshoots by tens of
// microseconds), then spinning on the clock for the last stretch.
void wait_until(Clock::time_point when) {
  constexpr auto kSpin = std::chrono::microseconds(200);
  if (when - Clock::now() > kSpin) std::this_thread::sleep_until(when - kSpin);
  while (Clock::now() < when) {
  }
}

// Closed loop: the next ping goes as the reply arrives, each timed from its
// send. At a fixed rate (timing.rate) ping i is due at start + i/rate and is
// timed from that due time, not from when it went: a stall then shows in every
// ping it held up, instead of in one (coordinated omission).
Status measure_rtt(BenchEnd& end, std::size_t size, const BenchTiming& timing, BenchFigures& figures) {
  std::vector<std::byte> message = pattern(size);
  std::vector<std::byte> reply(size);
  const bool paced = timing.rate > 0;
  const auto interval = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(paced ? 1.0 / timing.rate : 0.0));
  auto sent = Clock::now();
  auto due = sent;
  const auto measure_from = sent + timing.warmup;
  const auto until = measure_from + timing.duration;
  for (;;) {
    if (paced) {
      wait_until(due);
      sent = due;
    }
    if (auto s = end.send(message); !s) return s;
    auto n = end.receive(reply);
    if (!n) return std::unexpected(n.error());
    if (*n != size) return std::unexpected(make_error_code(errc::message_truncated));
    const auto back = Clock::now();
    if (sent >= measure_from) figures.rtt.record(static_cast<std::uint64_t>((back - sent).count()));
    if (back >= until && figures.rtt.count() > 0) {
      figures.seconds = std::chrono::duration<double>(back - measure_from).count();
      return {};
    }
    if (paced) {
      due += interval;
    } else {
      sent = back;
    }
  }
}

Status measure_throughput(BenchEnd& end, std::size_t size, const BenchTiming& timing, BenchFigures& figures) {
  std::vector<std::byte> buffer(size);
  const auto warm_until = Clock::now() + timing.warmup;
  while (Clock::now() < warm_until) {
    if (auto n = end.receive(buffer); !n) return std::unexpected(n.error());
  }
  const auto start = Clock::now();
  const auto until = start + timing.duration;
  // The clock is read every 16 messages: at tens of millions of messages a second
  // (the shared-memory ring) a read per message would be a fair part of the cost.
  constexpr std::uint64_t kClockEvery = 16;
  for (;;) {
    auto n = end.receive(buffer);
    if (!n) return std::unexpected(n.error());
    ++figures.messages;
    figures.bytes += *n;
    if (figures.messages % kClockEvery != 0) continue;
    const auto now = Clock::now();
    if (now >= until) {
      figures.seconds = std::chrono::duration<double>(now - start).count();
      return {};
    }
  }
}

// SO_SNDBUF and SO_RCVBUF on one connected stream socket, through the library's
// options (the descriptor is lent to a StreamSocket and taken back whatever
// happens); `asked` 0 sets nothing. Returns what the kernel granted.
Result<std::pair<int, int>> size_buffers(Fd& fd, Transport transport, int asked) {
  StreamSocket socket(std::move(fd), transport);
  const auto apply = [&]() -> Result<std::pair<int, int>> {
    if (asked > 0) {
      if (auto s = socket.set_send_buffer_size(asked); !s) return std::unexpected(s.error());
      if (auto s = socket.set_receive_buffer_size(asked); !s) return std::unexpected(s.error());
    }
    auto send = socket.send_buffer_size();
    if (!send) return std::unexpected(send.error());
    auto receive = socket.receive_buffer_size();
    if (!receive) return std::unexpected(receive.error());
    return std::pair{*send, *receive};
  };
  auto granted = apply();
  fd = socket.release();
  return granted;
}

}  // namespace

BenchCpus pin_bench_cpus() {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (::sched_getaffinity(0, sizeof allowed, &allowed) != 0) return {};
  std::vector<int> cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE && cpus.size() < 2; ++cpu) {
    if (CPU_ISSET(cpu, &allowed)) cpus.push_back(cpu);
  }
  if (cpus.size() < 2) return {};
  pin_to(cpus[0]);
  return {cpus[0], cpus[1]};
}

Result<BenchFigures> run_bench_case(const BenchCase& c, const BenchTiming& timing, const BenchCpus& cpus,
                                    const std::string& temp_dir, unsigned serial) {
  auto link = make_bench_link(*c.transport, temp_dir, serial);
  if (!link) return std::unexpected(link.error());
  std::pair<int, int> granted{0, 0};
  if (c.socket_buffer) {
    // Both ends, as a tuned server and client would both be; the parent's is reported.
    const Transport transport = c.transport->socket.value_or(Transport::unix_stream);
    auto parent_granted = size_buffers(link->parent_in, transport, *c.socket_buffer);
    if (!parent_granted) return std::unexpected(parent_granted.error());
    if (auto child_granted = size_buffers(link->child_in, transport, *c.socket_buffer); !child_granted) {
      return std::unexpected(child_granted.error());
    }
    granted = *parent_granted;
  }
  std::fflush(nullptr);  // nothing buffered may be written twice
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return std::unexpected(std::error_code(errno, std::system_category()));
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(kExitFailure);  // the parent died before prctl
    if (cpus.child) pin_to(*cpus.child);
    link->parent_in.reset();
    link->parent_out.reset();
    run_child(c, std::move(*link));
  }
  ChildGuard child(pid);
  link->child_in.reset();
  link->child_out.reset();
  BenchEndOptions options;
  options.reply_timeout = timing.reply_timeout;
  options.creates_ring = true;
  auto end = make_bench_end(*c.transport, c.path, std::move(link->parent_in), std::move(link->parent_out), options);
  if (!end) return std::unexpected(end.error());
  auto figures = std::make_unique<BenchFigures>();
  figures->granted_send = granted.first;
  figures->granted_receive = granted.second;
  const Status measured = c.measure == BenchMeasure::rtt ? measure_rtt(**end, c.message_size, timing, *figures)
                                                         : measure_throughput(**end, c.message_size, timing, *figures);
  child.stop();  // before our end closes, so the child sees no error to report
  if (!measured) return std::unexpected(measured.error());
  return *figures;
}

}  // namespace sockit::cli
