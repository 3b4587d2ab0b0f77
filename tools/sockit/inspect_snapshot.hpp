// `sockit inspect`'s model: the sockets diag reports, joined with the processes
// that hold them, filtered as the options say, and the trouble found among them.
// inspect_output.cpp prints it as a table or as JSON; the command only wires up.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sockit/diag/processes.hpp"
#include "sockit/diag/sockets.hpp"
#include "sockit/diag/trouble.hpp"
#include "sockit/result.hpp"

namespace sockit::cli {

struct InspectFilter {
  bool unix_sockets = true;
  bool tcp = true;
  bool udp = true;
  std::optional<int> pid;
  bool listening = false;  // LISTEN, and bound datagram sockets with no peer (ss -l)
  std::vector<diag::SocketState> states;  // any of these; empty: every state
  std::optional<std::uint16_t> port;      // local or peer port (TCP/UDP only)
  std::optional<std::string> path;        // substring of the Unix name as shown ("@x" for abstract)
};

struct SocketOwnerText {
  int pid = 0;
  std::string command;
  int fd = 0;
};

// One line of the listing. Unix and inet sockets share the columns ss has.
struct SocketRow {
  std::string netid;  // u_str, u_dgr, u_seq, tcp, udp
  diag::SocketState state = diag::SocketState::unknown;
  std::uint64_t recv_q = 0;  // a listener: connections waiting to be accepted
  std::uint64_t send_q = 0;  // a listener: the backlog maximum
  std::string local;         // raw bytes for a Unix name (escape on output)
  std::string peer;
  std::uint64_t inode = 0;
  std::optional<std::uint32_t> uid;  // inet only (the kernel reports it)
  std::vector<SocketOwnerText> owners;
  // Unix: the peer socket's inode and owners (who is at the other end).
  std::optional<std::uint64_t> peer_inode;
  std::vector<SocketOwnerText> peer_owners;
  std::optional<diag::TcpInfo> tcp_info;
  std::optional<std::uint32_t> drops;
};

struct InspectSnapshot {
  std::vector<SocketRow> rows;
  std::vector<diag::Trouble> warnings;  // messages already name the owning process
  std::size_t sockets_dumped = 0;   // before filtering (for -v)
  std::size_t processes_read = 0;   // whose fd directory was walked (for -v)
  std::size_t unreadable_processes = 0;
  bool truncated = false;  // the /proc walk stopped at a bound
};

// Dumps, joins and filters. Fails if a dump fails, or if --pid names a process
// that does not exist (errc::invalid_argument) or whose descriptors we may not
// read (std::errc::permission_denied).
[[nodiscard]] Result<InspectSnapshot> take_snapshot(const InspectFilter& filter);

}  // namespace sockit::cli
