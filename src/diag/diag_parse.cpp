#include "diag/diag_parse.hpp"

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <functional>

namespace sockit::diag::detail {
namespace {

using Bytes = std::span<const std::byte>;

// A trivially copyable T from the front of `bytes`, which must be long enough.
template <typename T>
T load(Bytes bytes) {
  T value;
  std::memcpy(&value, bytes.data(), sizeof value);
  return value;
}

// The rest of `bytes` after `offset`, or empty if the aligned offset is past the end.
Bytes after(Bytes bytes, std::size_t offset) {
  return offset >= bytes.size() ? Bytes{} : bytes.subspan(offset);
}

// Calls on_payload for each SOCK_DIAG_BY_FAMILY message in a datagram.
Result<DumpStep> walk_messages(Bytes datagram, std::uint32_t seq,
                               const std::function<Status(Bytes)>& on_payload) {
  while (!datagram.empty()) {
    if (datagram.size() < sizeof(nlmsghdr)) return fail(errc::malformed_reply);
    const auto header = load<nlmsghdr>(datagram);
    if (header.nlmsg_len < sizeof(nlmsghdr) || header.nlmsg_len > datagram.size()) {
      return fail(errc::malformed_reply);
    }
    // Our socket is private to one request: another sequence number is not ours.
    if (header.nlmsg_seq != seq) return fail(errc::malformed_reply);
    const Bytes payload = datagram.subspan(NLMSG_HDRLEN, header.nlmsg_len - NLMSG_HDRLEN);
    switch (header.nlmsg_type) {
      case NLMSG_DONE: return DumpStep::done;
      case NLMSG_NOOP: break;
      case NLMSG_ERROR: {
        if (payload.size() < sizeof(int)) return fail(errc::malformed_reply);
        const int error = load<int>(payload);
        if (error >= 0) return fail(errc::malformed_reply);  // a dump is never acked
        // -INT_MIN does not exist (found by fuzz_diag): no errno is that large.
        if (error < -4095) return fail(errc::malformed_reply);
        return fail(std::error_code(-error, std::system_category()));
      }
      case SOCK_DIAG_BY_FAMILY:
        if (auto status = on_payload(payload); !status) return fail(status.error());
        break;
      default: return fail(errc::malformed_reply);
    }
    datagram = after(datagram, NLMSG_ALIGN(header.nlmsg_len));
  }
  return DumpStep::more;
}

// Calls on_attribute(type, data) for each rtattr in `attributes`.
template <typename OnAttribute>
Status walk_attributes(Bytes attributes, OnAttribute on_attribute) {
  while (!attributes.empty()) {
    if (attributes.size() < sizeof(rtattr)) return fail(errc::malformed_reply);
    const auto attribute = load<rtattr>(attributes);
    if (attribute.rta_len < sizeof(rtattr) || attribute.rta_len > attributes.size()) {
      return fail(errc::malformed_reply);
    }
    const Bytes data = attributes.subspan(RTA_LENGTH(0), attribute.rta_len - RTA_LENGTH(0));
    if (auto status = on_attribute(attribute.rta_type & NLA_TYPE_MASK, data); !status) return status;
    attributes = after(attributes, RTA_ALIGN(attribute.rta_len));
  }
  return {};
}

std::vector<std::uint64_t> inode_array(Bytes data) {
  std::vector<std::uint64_t> inodes;
  inodes.reserve(data.size() / sizeof(std::uint32_t));
  for (std::size_t at = 0; at + sizeof(std::uint32_t) <= data.size(); at += sizeof(std::uint32_t)) {
    inodes.push_back(load<std::uint32_t>(data.subspan(at)));
  }
  return inodes;
}

// A path name may carry its terminating NUL (and sun_path padding); an abstract
// name is every byte the kernel sent, NULs included.
std::string unix_name(Bytes data) {
  const char* chars = reinterpret_cast<const char*>(data.data());
  std::string name(chars, data.size());
  if (!name.empty() && name.front() != '\0') name.resize(std::strlen(name.c_str()));  // up to the first NUL
  return name;
}

Status add_unix_attribute(UnixSocketInfo& info, int type, Bytes data) {
  switch (type) {
    case UNIX_DIAG_NAME: info.name = unix_name(data); break;
    case UNIX_DIAG_PEER:
      if (data.size() < sizeof(std::uint32_t)) return fail(errc::malformed_reply);
      info.peer_inode = load<std::uint32_t>(data);
      break;
    case UNIX_DIAG_ICONS:
      if (data.size() % sizeof(std::uint32_t) != 0) return fail(errc::malformed_reply);
      info.pending_inodes = inode_array(data);
      break;
    case UNIX_DIAG_RQLEN: {
      if (data.size() < sizeof(unix_diag_rqlen)) return fail(errc::malformed_reply);
      const auto lengths = load<unix_diag_rqlen>(data);
      info.has_queue_lengths = true;
      info.rqueue = lengths.udiag_rqueue;
      info.wqueue = lengths.udiag_wqueue;
      break;
    }
    default: break;  // newer attributes we do not show
  }
  return {};
}

Result<UnixSocketInfo> parse_unix_socket(Bytes payload) {
  if (payload.size() < sizeof(unix_diag_msg)) return fail(errc::malformed_reply);
  const auto message = load<unix_diag_msg>(payload);
  if (message.udiag_family != AF_UNIX) return fail(errc::malformed_reply);
  UnixSocketInfo info;
  info.type = message.udiag_type;
  info.state = static_cast<SocketState>(message.udiag_state);
  info.inode = message.udiag_ino;
  const Bytes attributes = after(payload, NLMSG_ALIGN(sizeof(unix_diag_msg)));
  auto status =
      walk_attributes(attributes, [&](int type, Bytes data) { return add_unix_attribute(info, type, data); });
  if (!status) return fail(status.error());
  return info;
}

InetEndpoint endpoint_of(int family, const __be32 (&address)[4], __be16 port) {
  InetEndpoint endpoint;
  endpoint.family = family;
  std::memcpy(endpoint.address.data(), address, family == AF_INET ? 4 : 16);
  endpoint.port = ntohs(port);
  return endpoint;
}

// struct tcp_info grows with the kernel: take what was sent, and the fields a
// kernel this old did not have stay absent. The ones we need always exist (2.6).
Result<TcpInfo> parse_tcp_info(Bytes data) {
  constexpr std::size_t kRequired = offsetof(tcp_info, tcpi_total_retrans) + sizeof(__u32);
  if (data.size() < kRequired) return fail(errc::malformed_reply);
  tcp_info raw{};
  std::memcpy(&raw, data.data(), std::min(data.size(), sizeof raw));
  TcpInfo info;
  info.rtt_us = raw.tcpi_rtt;
  info.rttvar_us = raw.tcpi_rttvar;
  info.snd_cwnd = raw.tcpi_snd_cwnd;
  info.retransmits = raw.tcpi_retransmits;
  info.total_retrans = raw.tcpi_total_retrans;
  if (data.size() >= offsetof(tcp_info, tcpi_delivery_rate) + sizeof(__u64)) {
    info.delivery_rate = raw.tcpi_delivery_rate;
  }
  return info;
}

Status add_inet_attribute(InetSocketInfo& info, int type, Bytes data) {
  if (type == INET_DIAG_INFO && info.protocol == IPPROTO_TCP) {
    auto tcp = parse_tcp_info(data);
    if (!tcp) return fail(tcp.error());
    info.tcp = *tcp;
  } else if (type == INET_DIAG_SKMEMINFO) {
    if (data.size() % sizeof(std::uint32_t) != 0) return fail(errc::malformed_reply);
    if (data.size() >= (SK_MEMINFO_DROPS + 1) * sizeof(std::uint32_t)) {
      info.drops = load<std::uint32_t>(data.subspan(SK_MEMINFO_DROPS * sizeof(std::uint32_t)));
    }
  }
  return {};
}

Result<InetSocketInfo> parse_inet_socket(Bytes payload, int protocol) {
  if (payload.size() < sizeof(inet_diag_msg)) return fail(errc::malformed_reply);
  const auto message = load<inet_diag_msg>(payload);
  if (message.idiag_family != AF_INET && message.idiag_family != AF_INET6) return fail(errc::malformed_reply);
  InetSocketInfo info;
  info.protocol = protocol;
  info.state = static_cast<SocketState>(message.idiag_state);
  info.local = endpoint_of(message.idiag_family, message.id.idiag_src, message.id.idiag_sport);
  info.peer = endpoint_of(message.idiag_family, message.id.idiag_dst, message.id.idiag_dport);
  info.rqueue = message.idiag_rqueue;
  info.wqueue = message.idiag_wqueue;
  info.uid = message.idiag_uid;
  info.inode = message.idiag_inode;
  const Bytes attributes = after(payload, NLMSG_ALIGN(sizeof(inet_diag_msg)));
  auto status =
      walk_attributes(attributes, [&](int type, Bytes data) { return add_inet_attribute(info, type, data); });
  if (!status) return fail(status.error());
  return info;
}

template <typename Info>
Status append(std::vector<Info>& out, Result<Info> info) {
  if (!info) return fail(info.error());
  if (out.size() >= kMaxDiagSockets) return fail(errc::limit_reached);
  out.push_back(std::move(*info));
  return {};
}

}  // namespace

Result<DumpStep> parse_unix_reply(std::span<const std::byte> datagram, std::uint32_t seq,
                                  std::vector<UnixSocketInfo>& out) {
  return walk_messages(datagram, seq, [&](Bytes payload) { return append(out, parse_unix_socket(payload)); });
}

Result<DumpStep> parse_inet_reply(std::span<const std::byte> datagram, std::uint32_t seq, int protocol,
                                  std::vector<InetSocketInfo>& out) {
  return walk_messages(datagram, seq,
                       [&](Bytes payload) { return append(out, parse_inet_socket(payload, protocol)); });
}

}  // namespace sockit::diag::detail
