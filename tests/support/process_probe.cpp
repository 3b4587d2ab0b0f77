#include "support/process_probe.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

namespace sockit::test {

int open_fd_count_of(pid_t pid, int from) {
  std::error_code ec;
  int n = 0;
  auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
  if (ec) return -1;
  for (; !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    if (from == 0 || std::stoi(it->path().filename().string()) >= from) ++n;
  }
  return n;
}

bool fd_count_falls_to(pid_t pid, int n, std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  for (;;) {
    const int open = open_fd_count_of(pid);
    if (open >= 0 && open <= n) return true;
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::optional<ProcessMemory> memory_of(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  if (!status) return std::nullopt;
  ProcessMemory m;
  int found = 0;
  std::string key;
  std::int64_t value = 0;
  std::string unit;
  std::string line;
  while (std::getline(status, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    key = line.substr(0, colon);
    std::int64_t* field = key == "VmRSS"    ? &m.rss_kib
                          : key == "VmHWM"  ? &m.peak_rss_kib
                          : key == "VmSize" ? &m.size_kib
                          : key == "VmPeak" ? &m.peak_size_kib
                                            : nullptr;
    if (field == nullptr) continue;
    try {
      value = std::stoll(line.substr(colon + 1));
    } catch (...) {
      return std::nullopt;
    }
    *field = value;
    ++found;
  }
  if (found != 4) return std::nullopt;
  return m;
}

long cpu_ticks_of(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const auto name_end = text.rfind(')');  // the command name may hold spaces and parentheses
  if (name_end == std::string::npos || name_end + 2 > text.size()) return -1;
  std::istringstream rest(text.substr(name_end + 2));  // from field 3, the state
  std::string field;
  long utime = -1, stime = -1;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stol(field);
    if (i == 15) stime = std::stol(field);
  }
  return utime < 0 || stime < 0 ? -1 : utime + stime;
}

bool reset_peak_rss(pid_t pid) {
  const std::string path = "/proc/" + std::to_string(pid) + "/clear_refs";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::write(fd, "5", 1) == 1;
  ::close(fd);
  return ok;
}

DescriptorSampler::DescriptorSampler(pid_t pid) : peak_(open_fd_count_of(pid)) {
  thread_ = std::thread([this, pid] {
    while (!stop_.load()) {
      const int n = open_fd_count_of(pid);
      if (n > peak_.load()) peak_ = n;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
}

DescriptorSampler::~DescriptorSampler() {
  stop_ = true;
  thread_.join();
}

}  // namespace sockit::test
