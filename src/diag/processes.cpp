// The /proc walk behind ProcessScan. std::filesystem with error codes keeps errno
// out of this file (the sys layer's job); every error is a process skipped.
#include "sockit/diag/processes.hpp"

#include <charconv>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace sockit::diag {
namespace {

namespace fs = std::filesystem;

template <typename Int>
std::optional<Int> parse_number(std::string_view text) {
  Int value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

// The inode in a "socket:[12345]" link target.
std::optional<std::uint64_t> socket_inode(std::string_view target) {
  constexpr std::string_view kPrefix = "socket:[";
  if (!target.starts_with(kPrefix) || !target.ends_with(']')) return std::nullopt;
  return parse_number<std::uint64_t>(target.substr(kPrefix.size(), target.size() - kPrefix.size() - 1));
}

std::string read_command(const fs::path& dir) {
  std::ifstream in(dir / "comm");
  std::string command;
  std::getline(in, command);
  return command;
}

// "Max open files            1024                 1048576              files"
std::optional<std::uint64_t> read_fd_limit(const fs::path& dir) {
  std::ifstream in(dir / "limits");
  std::string line;
  constexpr std::string_view kName = "Max open files";
  while (std::getline(in, line)) {
    if (!line.starts_with(kName)) continue;
    std::string_view rest = std::string_view(line).substr(kName.size());
    rest.remove_prefix(std::min(rest.find_first_not_of(' '), rest.size()));
    return parse_number<std::uint64_t>(rest.substr(0, rest.find(' ')));  // "unlimited" -> none
  }
  return std::nullopt;
}

}  // namespace

const ProcessInfo* ProcessScan::find(int pid) const {
  for (const ProcessInfo& process : processes) {
    if (process.pid == pid) return &process;
  }
  return nullptr;
}

ProcessScan scan_processes(const std::string& proc_root, const ProcessScanLimits& limits) {
  ProcessScan scan;
  std::error_code ec;
  fs::directory_iterator processes(proc_root, ec);
  if (ec) return scan;
  std::size_t seen = 0;
  for (auto it = processes; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) break;  // the listing itself failed part-way: keep what we have
    const auto pid = parse_number<int>(it->path().filename().native());
    if (!pid) continue;
    if (++seen > limits.max_processes) {
      scan.truncated = true;
      break;
    }
    std::error_code fd_ec;
    fs::directory_iterator fds(it->path() / "fd", fd_ec);
    if (fd_ec) {
      // Exited since the listing (ENOENT): nothing to say. Not ours to read: count it.
      if (fd_ec == std::errc::permission_denied || fd_ec == std::errc::operation_not_permitted)
        ++scan.unreadable;
      continue;
    }
    ProcessInfo info{*pid, read_command(it->path()), 0, read_fd_limit(it->path())};
    const std::size_t index = scan.processes.size();
    bool links_denied = false;
    for (auto fd = fds; fd != fs::directory_iterator(); fd.increment(fd_ec)) {
      if (fd_ec) break;  // the process exited mid-walk: what was read stands
      if (info.open_fds >= limits.max_fds_per_process) {
        scan.truncated = true;
        break;
      }
      ++info.open_fds;
      std::error_code link_ec;
      const fs::path target = fs::read_symlink(fd->path(), link_ec);
      if (link_ec) {
        // The directory lists but its links are refused (no ptrace access to the
        // process, as in a sandbox or under Yama): counted, owners unknown.
        links_denied = links_denied || link_ec == std::errc::permission_denied ||
                       link_ec == std::errc::operation_not_permitted;
        continue;
      }
      const auto inode = socket_inode(target.native());
      const auto number = parse_number<int>(fd->path().filename().native());
      if (inode && number) scan.owners[*inode].push_back({index, *number});
    }
    if (links_denied) ++scan.unreadable;
    scan.processes.push_back(std::move(info));
  }
  return scan;
}

}  // namespace sockit::diag
