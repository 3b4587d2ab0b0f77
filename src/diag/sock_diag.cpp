// The netlink half of diag: one NETLINK_SOCK_DIAG socket per dump, a request,
// and the reply read to NLMSG_DONE through a fixed buffer (diag_parse.cpp reads it).
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <vector>

#include "diag/diag_parse.hpp"
#include "sockit/diag/sockets.hpp"
#include "sockit/deadline.hpp"
#include "sys/syscalls.hpp"

namespace sockit::diag {
namespace {

template <typename Request>
struct Message {
  nlmsghdr header;
  Request request;
};

template <typename Request>
Status send_request(int fd, std::uint32_t seq, const Request& request) {
  Message<Request> message{};
  message.header.nlmsg_len = sizeof message;
  message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  message.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  message.header.nlmsg_seq = seq;
  message.request = request;
  // Unconnected netlink sockets send to the kernel (port id 0).
  auto sent = sys::send(fd, &message, sizeof message, 0);
  if (!sent) return fail(sent.error());
  if (*sent != sizeof message) return fail(errc::malformed_reply);
  return {};
}

// Reads datagrams until `parse` reports NLMSG_DONE. A datagram larger than the
// buffer (MSG_TRUNC gives its real size) is an error, not a silently cut reply.
template <typename Parse>
Status read_dump(int fd, Parse parse) {
  std::vector<std::byte> buffer(kDiagReceiveBuffer);
  for (;;) {
    if (auto ready = sys::wait_for(fd, POLLIN, Deadline::after(kDiagReceiveTimeout)); !ready) {
      return fail(ready.error());
    }
    auto received = sys::recv(fd, buffer.data(), buffer.size(), MSG_DONTWAIT | MSG_TRUNC);
    if (!received) return fail(received.error());
    if (*received == 0 || *received > buffer.size()) return fail(errc::malformed_reply);
    auto step = parse(std::span<const std::byte>(buffer.data(), *received));
    if (!step) return fail(step.error());
    if (*step == detail::DumpStep::done) return {};
  }
}

Result<Fd> open_diag_socket() { return sys::socket(AF_NETLINK, SOCK_RAW, NETLINK_SOCK_DIAG); }

}  // namespace

Result<std::vector<UnixSocketInfo>> dump_unix_sockets() {
  auto fd = open_diag_socket();
  if (!fd) return fail(fd.error());
  unix_diag_req request{};
  request.sdiag_family = AF_UNIX;
  request.udiag_states = ~0U;
  request.udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_PEER | UDIAG_SHOW_ICONS | UDIAG_SHOW_RQLEN;
  constexpr std::uint32_t kSeq = 1;
  if (auto sent = send_request(fd->get(), kSeq, request); !sent) return fail(sent.error());
  std::vector<UnixSocketInfo> sockets;
  auto status = read_dump(fd->get(), [&](std::span<const std::byte> datagram) {
    return detail::parse_unix_reply(datagram, kSeq, sockets);
  });
  if (!status) return fail(status.error());
  return sockets;
}

Result<std::vector<InetSocketInfo>> dump_inet_sockets(int protocol) {
  if (protocol != IPPROTO_TCP && protocol != IPPROTO_UDP) return fail(errc::invalid_argument);
  auto fd = open_diag_socket();
  if (!fd) return fail(fd.error());
  std::vector<InetSocketInfo> sockets;
  std::uint32_t seq = 0;
  for (const int family : {AF_INET, AF_INET6}) {
    inet_diag_req_v2 request{};
    request.sdiag_family = static_cast<std::uint8_t>(family);
    request.sdiag_protocol = static_cast<std::uint8_t>(protocol);
    request.idiag_states = ~0U;
    request.idiag_ext = (1U << (INET_DIAG_INFO - 1)) | (1U << (INET_DIAG_SKMEMINFO - 1));
    ++seq;
    if (auto sent = send_request(fd->get(), seq, request); !sent) return fail(sent.error());
    auto status = read_dump(fd->get(), [&](std::span<const std::byte> datagram) {
      return detail::parse_inet_reply(datagram, seq, protocol, sockets);
    });
    if (!status) return fail(status.error());
  }
  return sockets;
}

}  // namespace sockit::diag
