// The ancillary-data (cmsg) reader on arbitrary control buffers: any
// msg_controllen up to the buffer, any cmsg_len, level and type. Checked beyond
// "no out-of-bounds read" (AddressSanitizer; the buffer is a heap copy of exactly
// msg_controllen bytes, so one byte past it is caught):
//  - never more descriptors than the buffer has room for;
//  - a control buffer built the way the kernel builds it (SCM_RIGHTS with the
//    fuzzer's descriptor numbers, then SCM_CREDENTIALS) reads back exactly.
// Descriptors are only collected as numbers here, never owned or closed.
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/control_messages.hpp"

namespace {

void check(bool condition) {
  if (!condition) std::abort();
}

void read_arbitrary(const std::uint8_t* data, std::size_t size) {
  // Exactly `size` bytes on the heap, so AddressSanitizer sees a read one past
  // them; operator new aligns to 16, more than the cmsghdr alignment that
  // CMSG_FIRSTHDR assumes of msg_control.
  if (size == 0) return;
  std::vector<unsigned char> bytes(data, data + size);
  msghdr message{};
  message.msg_control = bytes.data();
  message.msg_controllen = size;
  sockit::detail::ControlContents contents;
  sockit::detail::read_control_messages(message, contents);
  check(contents.fds.size() <= size / sizeof(int));
}

void read_well_formed(const std::uint8_t* data, std::size_t size) {
  std::vector<int> fds(std::min<std::size_t>(size / sizeof(int), 253));
  if (!fds.empty()) std::memcpy(fds.data(), data, fds.size() * sizeof(int));
  const std::size_t space = CMSG_SPACE(fds.size() * sizeof(int)) + CMSG_SPACE(sizeof(ucred));
  std::vector<unsigned char> storage(space);
  msghdr message{};
  message.msg_control = storage.data();
  message.msg_controllen = space;
  cmsghdr* rights = CMSG_FIRSTHDR(&message);
  rights->cmsg_level = SOL_SOCKET;
  rights->cmsg_type = SCM_RIGHTS;
  rights->cmsg_len = CMSG_LEN(fds.size() * sizeof(int));
  if (!fds.empty()) std::memcpy(CMSG_DATA(rights), fds.data(), fds.size() * sizeof(int));
  cmsghdr* credentials = CMSG_NXTHDR(&message, rights);
  check(credentials != nullptr);
  const ucred sent{static_cast<pid_t>(fds.size()), 1000, 1001};
  credentials->cmsg_level = SOL_SOCKET;
  credentials->cmsg_type = SCM_CREDENTIALS;
  credentials->cmsg_len = CMSG_LEN(sizeof(ucred));
  std::memcpy(CMSG_DATA(credentials), &sent, sizeof sent);

  sockit::detail::ControlContents contents;
  sockit::detail::read_control_messages(message, contents);
  check(contents.fds == fds);
  check(contents.credentials.has_value());
  check(contents.credentials->pid == sent.pid && contents.credentials->uid == sent.uid &&
        contents.credentials->gid == sent.gid);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  if (data[0] % 2 == 0) {
    read_arbitrary(data + 1, size - 1);
  } else {
    read_well_formed(data + 1, size - 1);
  }
  return 0;
}
