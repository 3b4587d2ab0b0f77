// TCP-level options (tcp(7)), shared by StreamSocket and Listener through TcpOptions.
//
// Each call is one getsockopt/setsockopt at IPPROTO_TCP, so on a Unix socket the
// kernel's own EOPNOTSUPP comes back. SO_KEEPALIVE is the exception: it lives at
// SOL_SOCKET and Linux accepts it on any socket, so set_keepalive checks the
// protocol first rather than report success for an option that does nothing.
#include "sockit/tcp_options.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <climits>

#include "sys/error.hpp"
#include "sys/syscalls.hpp"

namespace sockit::tcp_option {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

Status set_int(int fd, int level, int name, int value) { return sys::set_option(fd, level, name, value); }

Result<int> get_int(int fd, int level, int name) { return sys::get_option<int>(fd, level, name); }

using sys::get_flag;

// The kernel takes these as int; refuse what would wrap rather than set a different value.
template <typename Duration>
Result<int> to_int(Duration d) {
  if (d.count() < 0 || d.count() > INT_MAX) return fail(errc::invalid_argument);
  return static_cast<int>(d.count());
}

// Reports the error a TCP-level option gives on a socket that is not TCP.
Status require_tcp(int fd) {
  auto protocol = get_int(fd, SOL_SOCKET, SO_PROTOCOL);
  if (!protocol) return fail(protocol.error());
  if (*protocol != IPPROTO_TCP) return fail(sys::error_from_errno(EOPNOTSUPP));
  return {};
}

}  // namespace

Status set_no_delay(int fd, bool on) { return set_int(fd, IPPROTO_TCP, TCP_NODELAY, on ? 1 : 0); }
Result<bool> no_delay(int fd) { return get_flag(fd, IPPROTO_TCP, TCP_NODELAY); }

// The timers go in before SO_KEEPALIVE so that the first probe already uses them.
// Zero leaves a timer at the kernel's default (net.ipv4.tcp_keepalive_*).
Status set_keepalive(int fd, const Keepalive& k) {
  if (auto s = require_tcp(fd); !s) return s;
  auto idle = to_int(k.idle);
  auto interval = to_int(k.interval);
  if (!idle || !interval || k.count < 0) return fail(errc::invalid_argument);
  const struct {
    int name;
    int value;
  } timers[] = {{TCP_KEEPIDLE, *idle}, {TCP_KEEPINTVL, *interval}, {TCP_KEEPCNT, k.count}};
  for (const auto& t : timers) {
    if (t.value == 0) continue;
    if (auto s = set_int(fd, IPPROTO_TCP, t.name, t.value); !s) return s;
  }
  return set_int(fd, SOL_SOCKET, SO_KEEPALIVE, k.enabled ? 1 : 0);
}

// Reports the timers in effect, which are the kernel defaults where none was set.
Result<Keepalive> keepalive(int fd) {
  Keepalive k;
  auto enabled = get_flag(fd, SOL_SOCKET, SO_KEEPALIVE);
  if (!enabled) return fail(enabled.error());
  auto idle = get_int(fd, IPPROTO_TCP, TCP_KEEPIDLE);
  if (!idle) return fail(idle.error());
  auto interval = get_int(fd, IPPROTO_TCP, TCP_KEEPINTVL);
  if (!interval) return fail(interval.error());
  auto count = get_int(fd, IPPROTO_TCP, TCP_KEEPCNT);
  if (!count) return fail(count.error());
  k.enabled = *enabled;
  k.idle = seconds(*idle);
  k.interval = seconds(*interval);
  k.count = *count;
  return k;
}

Status set_user_timeout(int fd, milliseconds t) {
  auto ms = to_int(t);
  if (!ms) return fail(ms.error());
  return set_int(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, *ms);
}

Result<milliseconds> user_timeout(int fd) {
  auto ms = get_int(fd, IPPROTO_TCP, TCP_USER_TIMEOUT);
  if (!ms) return fail(ms.error());
  return milliseconds(*ms);
}

// The kernel caps the queue at net.core.somaxconn; the getter reports the capped value.
Status set_fast_open(int fd, int queue_length) {
  return set_int(fd, IPPROTO_TCP, TCP_FASTOPEN, queue_length);
}
Result<int> fast_open(int fd) { return get_int(fd, IPPROTO_TCP, TCP_FASTOPEN); }

Status set_quick_ack(int fd, bool on) { return set_int(fd, IPPROTO_TCP, TCP_QUICKACK, on ? 1 : 0); }
Result<bool> quick_ack(int fd) { return get_flag(fd, IPPROTO_TCP, TCP_QUICKACK); }

// Older kernels fill a shorter struct; the fields read here have been in it since 2.6.
Result<TcpInfo> info(int fd) {
  auto raw = sys::get_option<tcp_info>(fd, IPPROTO_TCP, TCP_INFO);
  if (!raw) return fail(raw.error());
  TcpInfo out;
  out.state = raw->tcpi_state;
  out.rtt = std::chrono::microseconds(raw->tcpi_rtt);
  out.rttvar = std::chrono::microseconds(raw->tcpi_rttvar);
  out.retransmits = raw->tcpi_retransmits;
  out.total_retransmits = raw->tcpi_total_retrans;
  out.congestion_window = raw->tcpi_snd_cwnd;
  out.unacked = raw->tcpi_unacked;
  out.mss = raw->tcpi_snd_mss;
  out.fast_open_used = (raw->tcpi_options & TCPI_OPT_SYN_DATA) != 0;
  return out;
}

}  // namespace sockit::tcp_option

namespace sockit {

void TcpInfoSummary::add(const TcpInfo& info) {
  TcpInfoSummary one;
  one.connections = 1;
  one.rtt_min = one.rtt_max = one.rtt_sum = info.rtt;
  one.rttvar_sum = info.rttvar;
  one.total_retransmits = info.total_retransmits;
  one.unacked = info.unacked;
  *this += one;
}

TcpInfoSummary& TcpInfoSummary::operator+=(const TcpInfoSummary& other) {
  if (other.connections == 0) return *this;
  rtt_min = connections == 0 ? other.rtt_min : std::min(rtt_min, other.rtt_min);
  rtt_max = connections == 0 ? other.rtt_max : std::max(rtt_max, other.rtt_max);
  connections += other.connections;
  rtt_sum += other.rtt_sum;
  rttvar_sum += other.rttvar_sum;
  total_retransmits += other.total_retransmits;
  unacked += other.unacked;
  return *this;
}

std::chrono::microseconds TcpInfoSummary::rtt_mean() const {
  return connections == 0 ? std::chrono::microseconds(0) : rtt_sum / static_cast<std::int64_t>(connections);
}

std::chrono::microseconds TcpInfoSummary::rttvar_mean() const {
  return connections == 0 ? std::chrono::microseconds(0) : rttvar_sum / static_cast<std::int64_t>(connections);
}

}  // namespace sockit
