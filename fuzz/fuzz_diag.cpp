// The sock_diag netlink reply parser behind `sockit inspect` (src/diag/diag_parse)
// on arbitrary datagrams: UNIX_DIAG, and INET_DIAG for TCP and UDP. A reply comes
// from the kernel, but the parser is the code that must not trust lengths: checked
// beyond "no out-of-bounds read" (AddressSanitizer; the datagram is a heap copy of
// exactly its size), that what the parser builds comes from the datagram: the
// names and inode lists of the sockets it found add up to no more bytes than it
// was given (nothing made up from a lying length).
//
// The first byte picks the parser; the request number is taken from the first
// message's header, so the fuzzer is not stopped at the sequence check.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <netinet/in.h>
#include <vector>

#include "diag/diag_parse.hpp"

namespace {

void check(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t which = data[0] % 3;
  std::vector<std::byte> datagram(size - 1);
  if (!datagram.empty()) std::memcpy(datagram.data(), data + 1, datagram.size());
  std::uint32_t seq = 0;
  if (datagram.size() >= 12) std::memcpy(&seq, datagram.data() + 8, sizeof seq);  // nlmsghdr.nlmsg_seq

  using namespace sockit::diag;
  if (which == 0) {
    std::vector<UnixSocketInfo> sockets;
    auto step = detail::parse_unix_reply(datagram, seq, sockets);
    (void)step;
    std::size_t built = 0;
    for (const UnixSocketInfo& s : sockets) built += s.name.size() + 4 * s.pending_inodes.size();
    check(built <= datagram.size());
  } else {
    std::vector<InetSocketInfo> sockets;
    auto step = detail::parse_inet_reply(datagram, seq, which == 1 ? IPPROTO_TCP : IPPROTO_UDP, sockets);
    (void)step;
  }
  return 0;
}
