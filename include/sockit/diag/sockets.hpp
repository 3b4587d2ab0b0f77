// The machine's sockets as the kernel reports them through sock_diag netlink
// (NETLINK_SOCK_DIAG: UNIX_DIAG and INET_DIAG), the interface `ss` uses.
//
// Why netlink and not /proc/net/{unix,tcp,udp}: the text files lack most of what
// is worth seeing (a listener's backlog in use and maximum, the peer of a Unix
// socket, tcp_info's rtt and cwnd, UDP drops), and their format is not a stable
// interface. Each dump_* call opens its own netlink socket, asks for one dump and
// reads it to the end; the results are plain values, owned by the caller.
//
// Bounds: one receive buffer of kDiagReceiveBuffer bytes, at most kMaxDiagSockets
// sockets per dump (more is errc::limit_reached, never an unbounded vector), and a
// deadline on every receive (the kernel answers at once; a silent one is an error,
// not a hang). A reply that does not parse is errc::malformed_reply: every length
// is checked before it is read.
//
// Thread safety: free functions with no shared state; call from any thread.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sockit/result.hpp"

namespace sockit::diag {

inline constexpr std::size_t kDiagReceiveBuffer = 64 * 1024;
inline constexpr std::size_t kMaxDiagSockets = 1'000'000;
inline constexpr std::chrono::milliseconds kDiagReceiveTimeout{5000};

// The kernel's socket states (include/net/tcp_states.h); Unix sockets use
// established, listen and close (close = unconnected).
enum class SocketState : std::uint8_t {
  unknown = 0,
  established = 1,
  syn_sent,
  syn_recv,
  fin_wait1,
  fin_wait2,
  time_wait,
  close,
  close_wait,
  last_ack,
  listen,
  closing,
  new_syn_recv,
};

// The name `ss` prints ("ESTAB", "CLOSE-WAIT", "UNCONN" for close).
[[nodiscard]] const char* state_name(SocketState state) noexcept;
// Parses a state as a user writes it: ss's names and the kernel's, any case, '-'
// or '_' ("close-wait", "CLOSE_WAIT", "estab", "established", "unconn").
[[nodiscard]] std::optional<SocketState> parse_state(std::string_view text) noexcept;

struct UnixSocketInfo {
  int type = 0;  // SOCK_STREAM, SOCK_DGRAM or SOCK_SEQPACKET
  SocketState state = SocketState::unknown;
  std::uint64_t inode = 0;
  std::uint64_t peer_inode = 0;  // 0: no peer (unconnected, or a listener)
  // The bound name: a path, or an abstract name whose first byte is '\0' (kept as
  // the kernel gives it, so names with any bytes survive). Empty: unnamed.
  std::string name;
  bool has_queue_lengths = false;  // UNIX_DIAG_RQLEN was present
  // For a listener: connections waiting to be accepted, and the backlog maximum.
  // Otherwise: bytes queued to read, and bytes sent but not yet read by the peer.
  std::uint32_t rqueue = 0;
  std::uint32_t wqueue = 0;
  std::vector<std::uint64_t> pending_inodes;  // a listener's waiting clients (the clients' inodes)

  [[nodiscard]] bool is_abstract() const noexcept { return !name.empty() && name.front() == '\0'; }
  // The name as ss prints it: the path, "@name" for an abstract one, "" if unnamed.
  [[nodiscard]] std::string display_name() const;
};

// An IPv4 or IPv6 address and port, as the socket's id in inet_diag carries it.
struct InetEndpoint {
  int family = 0;  // AF_INET or AF_INET6
  std::array<std::uint8_t, 16> address{};  // 4 bytes used for AF_INET
  std::uint16_t port = 0;                  // host byte order

  [[nodiscard]] bool is_wildcard() const noexcept;  // 0.0.0.0 or ::
  // "127.0.0.1:80", "[::1]:80", "*:80" for a wildcard address.
  [[nodiscard]] std::string to_string() const;
};

// What INET_DIAG_INFO's struct tcp_info says, for the fields worth showing.
struct TcpInfo {
  std::uint32_t rtt_us = 0;
  std::uint32_t rttvar_us = 0;
  std::uint32_t snd_cwnd = 0;  // segments
  std::uint8_t retransmits = 0;  // unrecovered RTO timeouts in a row
  std::uint32_t total_retrans = 0;
  std::optional<std::uint64_t> delivery_rate;  // bytes/s; absent on kernels before 4.9
};

struct InetSocketInfo {
  int protocol = 0;  // IPPROTO_TCP or IPPROTO_UDP
  SocketState state = SocketState::unknown;
  InetEndpoint local;
  InetEndpoint peer;
  // For a TCP listener: connections waiting to be accepted, and the backlog maximum.
  // Otherwise the bytes in the receive and send queues.
  std::uint32_t rqueue = 0;
  std::uint32_t wqueue = 0;
  std::uint32_t uid = 0;
  std::uint64_t inode = 0;  // 0 for sockets no descriptor holds (TIME-WAIT, SYN-RECV)
  std::optional<TcpInfo> tcp;  // TCP only, and only where the kernel sent it
  std::optional<std::uint32_t> drops;  // SK_MEMINFO_DROPS, where the kernel has it
};

// Every Unix socket in this network namespace.
[[nodiscard]] Result<std::vector<UnixSocketInfo>> dump_unix_sockets();
// Every TCP (IPPROTO_TCP) or UDP (IPPROTO_UDP) socket, IPv4 and IPv6.
[[nodiscard]] Result<std::vector<InetSocketInfo>> dump_inet_sockets(int protocol);

}  // namespace sockit::diag
