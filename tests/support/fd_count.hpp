// Counting this process's open descriptors, for leak checks.
#pragma once

#include <string>

namespace sockit::test {

// Entries in /proc/self/fd, not counting the directory handle used to read it.
int open_fd_count();
// "fd -> target" lines, for a failure message.
std::string describe_open_fds();

}  // namespace sockit::test
