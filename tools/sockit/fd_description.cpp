#include "fd_description.hpp"

#include <fcntl.h>
#include <fmt/core.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>

namespace sockit::cli {
namespace {

const char* file_type(mode_t mode) {
  switch (mode & S_IFMT) {
    case S_IFREG: return "regular file";
    case S_IFDIR: return "directory";
    case S_IFIFO: return "pipe";
    case S_IFSOCK: return "socket";
    case S_IFCHR: return "character device";
    case S_IFBLK: return "block device";
    case S_IFLNK: return "symbolic link";
    default: return "unknown type";
  }
}

const char* access_mode(int flags) {
  if ((flags & O_PATH) == O_PATH) return "opened as a path only";
  switch (flags & O_ACCMODE) {
    case O_RDONLY: return "opened read-only";
    case O_WRONLY: return "opened write-only";
    default: return "opened read-write";
  }
}

}  // namespace

std::string describe_descriptor(int fd) {
  std::array<char, 4096> name{};
  const std::string link = fmt::format("/proc/self/fd/{}", fd);
  const ssize_t length = ::readlink(link.c_str(), name.data(), name.size() - 1);
  std::string line = fmt::format("fd {}: {}", fd, length > 0 ? std::string(name.data(), length) : "(no name)");

  std::string details;
  struct stat st {};
  if (::fstat(fd, &st) == 0) {
    details = file_type(st.st_mode);
    if (S_ISREG(st.st_mode)) details += fmt::format(", {} bytes", static_cast<long long>(st.st_size));
    details += fmt::format(", mode {:04o}", st.st_mode & 07777);
  }
  if (const int flags = ::fcntl(fd, F_GETFL); flags >= 0) {
    details += fmt::format("{}{}", details.empty() ? "" : ", ", access_mode(flags));
  }
  if (!details.empty()) line += fmt::format(" ({})", details);
  return line;
}

}  // namespace sockit::cli
