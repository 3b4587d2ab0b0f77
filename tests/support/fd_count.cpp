#include "support/fd_count.hpp"

#include <dirent.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <string>

namespace sockit::test {
namespace {

template <typename Visit>
void for_each_fd(Visit visit) {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return;
  const int own = ::dirfd(dir);
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    const int fd = std::atoi(entry->d_name);
    if (fd != own) visit(fd);
  }
  ::closedir(dir);
}

}  // namespace

int open_fd_count() {
  int count = 0;
  for_each_fd([&](int) { ++count; });
  return count;
}

std::string describe_open_fds() {
  std::string out;
  for_each_fd([&](int fd) {
    std::array<char, 256> target{};
    const std::string link = "/proc/self/fd/" + std::to_string(fd);
    const ssize_t n = ::readlink(link.c_str(), target.data(), target.size() - 1);
    out += "  " + std::to_string(fd) + " -> " + (n > 0 ? std::string(target.data(), static_cast<std::size_t>(n)) : "?") + "\n";
  });
  return out;
}

}  // namespace sockit::test
