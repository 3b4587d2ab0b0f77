#include "core/control_messages.hpp"

#include <algorithm>
#include <cstddef>
#include <cstring>

namespace sockit::detail {
namespace {

// The payload bytes of `header` that lie inside the control buffer: cmsg_len
// minus the header, cut at the buffer's end.
std::size_t payload_size(const msghdr& message, const cmsghdr& header) {
  if (header.cmsg_len < CMSG_LEN(0)) return 0;
  const auto* begin = static_cast<const unsigned char*>(message.msg_control);
  const unsigned char* end = begin + message.msg_controllen;
  const unsigned char* data = CMSG_DATA(&header);
  if (data > end) return 0;
  return std::min<std::size_t>(header.cmsg_len - CMSG_LEN(0), static_cast<std::size_t>(end - data));
}

}  // namespace

void read_control_messages(const msghdr& message, ControlContents& out) {
  // CMSG_NXTHDR takes a non-const msghdr but only reads it.
  auto& walked = const_cast<msghdr&>(message);
  for (cmsghdr* header = CMSG_FIRSTHDR(&walked); header != nullptr; header = CMSG_NXTHDR(&walked, header)) {
    if (header->cmsg_level != SOL_SOCKET) continue;
    const std::size_t size = payload_size(message, *header);
    const unsigned char* data = CMSG_DATA(header);
    if (header->cmsg_type == SCM_RIGHTS) {
      // The count comes from cmsg_len, which the kernel shortens when it had to
      // cut the list (MSG_CTRUNC).
      for (std::size_t i = 0; i + sizeof(int) <= size; i += sizeof(int)) {
        int fd = -1;
        std::memcpy(&fd, data + i, sizeof fd);  // CMSG_DATA need not be int-aligned
        out.fds.push_back(fd);
      }
    } else if (header->cmsg_type == SCM_CREDENTIALS && size >= sizeof(ucred)) {
      ucred raw{};
      std::memcpy(&raw, data, sizeof raw);
      out.credentials = Credentials{raw.pid, raw.uid, raw.gid};
    }
  }
}

}  // namespace sockit::detail
