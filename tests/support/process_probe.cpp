#include "support/process_probe.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

namespace sockit::test {

int open_fd_count_of(pid_t pid) {
  std::error_code ec;
  int n = 0;
  auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
  if (ec) return -1;
  for (; !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) ++n;
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
