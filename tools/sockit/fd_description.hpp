// What a received descriptor is, in one line for `sockit recv-fd`:
//   "fd 5: /tmp/report.txt (regular file, 1234 bytes, mode 0640, opened read-only)"
// The name is the kernel's (readlink of /proc/self/fd/N): a path for files
// ("(deleted)" appended once unlinked), "pipe:[1234]" or "socket:[5678]" otherwise.
#pragma once

#include <string>

namespace sockit::cli {

// Never fails: what cannot be read is left out of the line.
[[nodiscard]] std::string describe_descriptor(int fd);

}  // namespace sockit::cli
