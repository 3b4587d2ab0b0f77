// Server under descriptor exhaustion, on every backend: the issue's scenario
// (RLIMIT_NOFILE lowered to 64, 200 clients) with the server alone in a child
// process, so only the server runs out of descriptors and the clients are real
// outsiders that can observe what it does to them.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <thread>

#include "sockit/net/server.hpp"
#include "sockit/sockit.hpp"
#include "support/bytes.hpp"
#include "support/child.hpp"
#include "support/loop_helpers.hpp"
#include "support/process_probe.hpp"
#include "support/temp_dir.hpp"

namespace sockit::net {
namespace {

using namespace std::chrono_literals;
using test::bytes_of;

constexpr rlim_t kDescriptorLimit = 64;
constexpr int kClients = 200;

// What one client saw after sending a frame: its echo, a prompt close, or nothing.
enum class Outcome { served, refused, hung };

Outcome try_echo(StreamSocket& s, std::span<const std::byte> payload) {
  Buffer wire;
  if (!encode(Framing::length_prefix(), payload, wire)) return Outcome::hung;
  if (auto sent = s.send_all(wire.readable(), 3s); !sent) {
    return sent.error() == std::errc::timed_out ? Outcome::hung : Outcome::refused;
  }
  std::vector<std::byte> back(wire.size());
  auto got = s.recv_exact(back, 3s);
  if (got) return std::equal(back.begin(), back.end(), wire.readable().begin()) ? Outcome::served : Outcome::hung;
  return got.error() == std::errc::timed_out ? Outcome::hung : Outcome::refused;
}

// The child's count of waits (its loops' syscalls_wait), asked for with SIGUSR1.
std::optional<std::uint64_t> waits_of(const test::Child& child, const Fd& report) {
  if (::kill(child.pid(), SIGUSR1) != 0) return std::nullopt;
  pollfd p{report.get(), POLLIN, 0};
  std::uint64_t waits = 0;
  if (::poll(&p, 1, 10'000) != 1 || ::read(report.get(), &waits, sizeof waits) != sizeof waits) return std::nullopt;
  return waits;
}

bool eventually(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

// The child: an echo server limited to 64 descriptors, serving until SIGTERM.
// At each SIGUSR1 it writes its loops' count of waits to `report` (8 bytes).
// Exit status 0 when its log reported the exhaustion exactly once; 20 + n otherwise.
int serve_with_few_descriptors(const std::string& backend, const Address& address, int report) {
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  sigaddset(&term, SIGUSR1);
  ::pthread_sigmask(SIG_BLOCK, &term, nullptr);  // before the workers exist, so they inherit it
  rlimit limit{kDescriptorLimit, kDescriptorLimit};
  if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) return 10;
  std::atomic<int> logged{0};
  ServerOptions options;
  options.backend = backend;
  options.connection.framing = Framing::length_prefix();
  options.log = [&](std::string_view) { logged.fetch_add(1); };
  auto server = Server::create(address, options, [](Connection& c) {
    c.on_message([](Connection& self, std::span<const std::byte> m) { (void)self.send(m); });
  });
  if (!server || !(*server)->start()) return 11;
  int signal = 0;
  while (::sigwait(&term, &signal) == 0 && signal == SIGUSR1) {
    const std::uint64_t waits = (*server)->stats().loops.syscalls_wait;
    if (::write(report, &waits, sizeof waits) != sizeof waits) return 12;
  }
  (*server)->shutdown(1s);
  return logged.load() == 1 ? 0 : 20 + std::min(logged.load(), 50);
}

class ServerOutOfDescriptors : public test::LoopTest {};

TEST_P(ServerOutOfDescriptors, ShedsWhatItCannotServeDoesNotSpinAndServesAgainOnceClientsLeave) {
  const Address address = *Address::parse("unix:@" + test::unique_abstract_name());
  int pipe_ends[2];
  ASSERT_EQ(::pipe2(pipe_ends, O_CLOEXEC), 0);
  const Fd report_read(pipe_ends[0]), report_write(pipe_ends[1]);
  test::Child child([&] { return serve_with_few_descriptors(GetParam(), address, report_write.get()); });

  // Up: a first client is served (and leaves).
  ASSERT_TRUE(eventually([&] { auto c = connect(address, 100ms); return c && try_echo(*c, bytes_of("up")) == Outcome::served; }, 5s));
  const int idle_fds = test::open_fd_count_of(child.pid());

  // The flood: 200 clients against 64 descriptors. Each is either served or
  // closed at once; none is left hanging in a backlog nobody drains.
  std::vector<StreamSocket> clients;
  for (int i = 0; i < kClients; ++i) {
    auto c = connect(address, 2s);
    ASSERT_TRUE(c) << "client " << i << ": " << c.error().message();
    clients.push_back(std::move(*c));
  }
  int served = 0, refused = 0, hung = 0;
  for (auto& c : clients) {
    switch (try_echo(c, bytes_of("flood"))) {
      case Outcome::served: ++served; break;
      case Outcome::refused: ++refused; break;
      case Outcome::hung: ++hung; break;
    }
  }
  EXPECT_EQ(hung, 0);
  EXPECT_GE(served, 10) << "the server should serve what its descriptors allow";
  EXPECT_GE(refused, kClients - static_cast<int>(kDescriptorLimit)) << "served " << served;

  // At the limit, with connections held, the server waits; it does not spin. Its
  // waits are counted by its loops: a slow machine makes a waiting server wait
  // fewer times, never more (each worker retries the accept once per 50 ms pause:
  // 20 waits a second), while a loop that spins waits thousands of times in any
  // share of a CPU. CPU time catches a spin that never returns to the wait, with
  // a bound (a quarter of a CPU) that an idle server is nowhere near.
  constexpr auto kWindow = 1s;
  const auto waits_before = waits_of(child, report_read);
  ASSERT_TRUE(waits_before) << "the child reports its waits";
  const long ticks_before = test::cpu_ticks_of(child.pid());
  std::this_thread::sleep_for(kWindow);
  const long ticks_spent = test::cpu_ticks_of(child.pid()) - ticks_before;
  const auto waits_after = waits_of(child, report_read);
  ASSERT_TRUE(waits_after);
  EXPECT_LT(*waits_after - *waits_before, 200u) << "waits in a second at the descriptor limit";
  EXPECT_LT(ticks_spent, ::sysconf(_SC_CLK_TCK) / 4) << "CPU ticks in a second at the descriptor limit";

  // The old clients leave; once the server has closed their descriptors, new
  // clients are served again, one after another.
  clients.clear();
  ASSERT_TRUE(test::fd_count_falls_to(child.pid(), idle_fds, 5s))
      << test::open_fd_count_of(child.pid()) << " descriptors open in the server, " << idle_fds << " when idle";
  for (int i = 0; i < 20; ++i) {
    auto fresh = connect(address, 2s);
    ASSERT_TRUE(fresh) << fresh.error().message();
    EXPECT_EQ(try_echo(*fresh, bytes_of("served again")), Outcome::served) << "fresh client " << i;
  }

  child.kill(SIGTERM);
  EXPECT_EQ(child.wait(10s), 0) << "0: exhaustion logged exactly once; 20+n: logged n times";
}

INSTANTIATE_TEST_SUITE_P(Backends, ServerOutOfDescriptors, ::testing::ValuesIn(test::backends_under_test()),
                         test::backend_param_name);

}  // namespace
}  // namespace sockit::net
