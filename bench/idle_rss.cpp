// The idle-connection cost of bench-echo: opens N connections to a running echo
// server (another process, given by pid), waits until the server holds all of them
// (its /proc/PID/fd count), and reads the server's user-space memory before and
// while holding them: VmRSS from /proc/PID/status, Rss and Private_Dirty from
// /proc/PID/smaps_rollup. It measures twice: right after connecting (never used),
// and again after every connection has echoed one 64-byte message (so buffers a
// first read allocates show, and so do buffers a server fails to give back).
// Prints one JSON line: bytes per idle connection = delta / N.
//
// Socket buffers and the socket structures live in the kernel and are not in any
// RSS; the machine-wide Slab delta of /proc/meminfo (both ends of every connection,
// plus whatever else the machine did meanwhile) is printed for context only.
#include <dirent.h>
#include <poll.h>
#include <time.h>

#include <chrono>
#include <cinttypes>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_common.hpp"

namespace {

using bench::fail;

struct Memory {
  long vmrss_kib = 0;
  long rss_kib = 0;
  long private_dirty_kib = 0;
  long anonymous_kib = 0;
};

// The value of "Key:   123 kB" in a /proc file, or -1.
long proc_field(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with(key + ":")) return std::stol(line.substr(key.size() + 1));
  }
  return -1;
}

Memory read_memory(int pid) {
  const std::string base = "/proc/" + std::to_string(pid);
  Memory m;
  m.vmrss_kib = proc_field(base + "/status", "VmRSS");
  m.rss_kib = proc_field(base + "/smaps_rollup", "Rss");
  m.private_dirty_kib = proc_field(base + "/smaps_rollup", "Private_Dirty");
  m.anonymous_kib = proc_field(base + "/smaps_rollup", "Anonymous");
  if (m.vmrss_kib < 0) fail("cannot read /proc/" + std::to_string(pid) + "/status (is the server running?)");
  return m;
}

int count_fds(int pid) {
  const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  DIR* d = ::opendir(dir.c_str());
  if (!d) fail("cannot open " + dir);
  int n = 0;
  while (const dirent* e = ::readdir(d)) n += e->d_name[0] != '.';
  ::closedir(d);
  return n;
}

// Waits until the server holds at least `want` descriptors; false after the timeout.
bool wait_for_fds(int pid, int want, std::chrono::seconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (count_fds(pid) < want) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

// Connections the server has closed (readable with nothing sent means EOF or RST).
int closed_by_server(const std::vector<int>& fds) {
  std::vector<pollfd> p;
  p.reserve(fds.size());
  for (const int fd : fds) p.push_back({.fd = fd, .events = POLLIN | POLLRDHUP, .revents = 0});
  ::poll(p.data(), p.size(), 0);
  int closed = 0;
  for (const pollfd& x : p) closed += (x.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
  return closed;
}

double per_conn(long after_kib, long before_kib, int n) {
  return static_cast<double>(after_kib - before_kib) * 1024.0 / n;
}

}  // namespace

int main(int argc, char** argv) {
  std::string address;
  int pid = 0;
  int connections = 10000;
  int settle_ms = 500;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--address")
      address = value;
    else if (flag == "--server-pid")
      pid = std::stoi(value);
    else if (flag == "--connections")
      connections = std::stoi(value);
    else if (flag == "--settle-ms")
      settle_ms = std::stoi(value);
    else
      fail("unknown flag " + flag);
  }
  if (address.empty() || pid <= 0 || connections < 1 || argc % 2 == 0) {
    fail(
        "usage: idle_rss --address unix:PATH|tcp://H:P --server-pid PID [--connections 10000] [--settle-ms "
        "500]");
  }
  const rlim_t limit = bench::raise_fd_limit();
  if (limit < static_cast<rlim_t>(connections) + 16) {
    fail("RLIMIT_NOFILE is " + std::to_string(limit) + ", too low for " + std::to_string(connections));
  }
  const bench::Target target = bench::parse_target(address);

  const int fds_before = count_fds(pid);
  const Memory before = read_memory(pid);
  const long slab_before = proc_field("/proc/meminfo", "Slab");
  const auto t0 = std::chrono::steady_clock::now();

  // In batches no larger than the listen backlog, each accepted before the next,
  // so no SYN is dropped (a dropped SYN would cost a 1 s retransmit).
  constexpr int kBatch = 250;
  std::vector<int> fds;
  fds.reserve(static_cast<std::size_t>(connections));
  while (static_cast<int>(fds.size()) < connections) {
    const int batch = std::min(kBatch, connections - static_cast<int>(fds.size()));
    for (int i = 0; i < batch; ++i) {
      const int fd = bench::connect_to(target, /*nonblocking=*/false);
      if (fd < 0)
        fail("connect " + address + " #" + std::to_string(fds.size()) + ": " + std::strerror(errno));
      fds.push_back(fd);
    }
    if (!wait_for_fds(pid, fds_before + static_cast<int>(fds.size()), std::chrono::seconds(10))) {
      fail("the server holds " + std::to_string(count_fds(pid) - fds_before) + " new descriptors after " +
           std::to_string(fds.size()) + " connects (refusing connections? --max-conns?)");
    }
  }
  const double connect_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::this_thread::sleep_for(std::chrono::milliseconds(settle_ms));
  const int fds_fresh = count_fds(pid);
  const Memory fresh = read_memory(pid);
  const long slab_fresh = proc_field("/proc/meminfo", "Slab");
  const int closed_fresh = closed_by_server(fds);

  // One 64-byte echo per connection, then idle again.
  char out[64];
  char in[64];
  for (std::size_t i = 0; i < sizeof out; ++i) out[i] = static_cast<char>('a' + i % 26);
  const timeval five_s{.tv_sec = 5, .tv_usec = 0};
  for (const int fd : fds) {
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &five_s, sizeof five_s);
    if (::send(fd, out, sizeof out, MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof out)) fail("send failed");
    if (::recv(fd, in, sizeof in, MSG_WAITALL) != static_cast<ssize_t>(sizeof in))
      fail("echo did not come back");
    if (std::memcmp(in, out, sizeof in) != 0) fail("wrong echo");
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(settle_ms));
  const Memory used = read_memory(pid);
  const int closed_used = closed_by_server(fds);

  std::printf(
      "{\"address\":\"%s\",\"connections\":%d,\"connect_s\":%.2f,\"server_fds_before\":%d,\"server_fds_"
      "held\":%d,"
      "\"closed_by_server\":%d,\"vmrss_before_kib\":%ld,\"vmrss_fresh_kib\":%ld,\"vmrss_after_echo_kib\":%ld,"
      "\"fresh_vmrss_bytes_per_conn\":%.0f,\"fresh_private_dirty_bytes_per_conn\":%.0f,"
      "\"after_echo_vmrss_bytes_per_conn\":%.0f,\"after_echo_private_dirty_bytes_per_conn\":%.0f,"
      "\"kernel_slab_bytes_per_conn_both_ends_machine_wide\":%.0f}\n",
      address.c_str(), connections, connect_s, fds_before, fds_fresh, std::max(closed_fresh, closed_used),
      before.vmrss_kib, fresh.vmrss_kib, used.vmrss_kib,
      per_conn(fresh.vmrss_kib, before.vmrss_kib, connections),
      per_conn(fresh.private_dirty_kib, before.private_dirty_kib, connections),
      per_conn(used.vmrss_kib, before.vmrss_kib, connections),
      per_conn(used.private_dirty_kib, before.private_dirty_kib, connections),
      per_conn(slab_fresh, slab_before, connections));
  for (const int fd : fds) ::close(fd);
  return 0;
}
