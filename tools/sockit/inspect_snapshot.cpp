#include "inspect_snapshot.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <filesystem>
#include <unordered_map>

namespace sockit::cli {
namespace {

using diag::SocketState;

std::vector<SocketOwnerText> owners_of(const diag::ProcessScan& scan, std::uint64_t inode) {
  std::vector<SocketOwnerText> owners;
  if (inode == 0) return owners;
  const auto found = scan.owners.find(inode);
  if (found == scan.owners.end()) return owners;
  for (const diag::SocketOwner& owner : found->second) {
    const diag::ProcessInfo& process = scan.processes[owner.process];
    owners.push_back({process.pid, process.command, owner.fd});
  }
  return owners;
}

const char* unix_netid(int type) {
  switch (type) {
    case SOCK_DGRAM: return "u_dgr";
    case SOCK_SEQPACKET: return "u_seq";
    default: return "u_str";
  }
}

SocketRow unix_row(const diag::UnixSocketInfo& socket, const diag::ProcessScan& scan,
                   const std::unordered_map<std::uint64_t, const diag::UnixSocketInfo*>& by_inode) {
  SocketRow row;
  row.netid = unix_netid(socket.type);
  row.state = socket.state;
  row.recv_q = socket.rqueue;
  row.send_q = socket.wqueue;
  row.local = socket.name.empty() ? "*" : socket.display_name();
  row.peer = "*";
  row.inode = socket.inode;
  row.owners = owners_of(scan, socket.inode);
  if (socket.peer_inode != 0) {
    row.peer_inode = socket.peer_inode;
    row.peer_owners = owners_of(scan, socket.peer_inode);
    const auto peer = by_inode.find(socket.peer_inode);
    if (peer != by_inode.end() && !peer->second->name.empty()) row.peer = peer->second->display_name();
  }
  return row;
}

SocketRow inet_row(const diag::InetSocketInfo& socket, const diag::ProcessScan& scan) {
  SocketRow row;
  row.netid = socket.protocol == IPPROTO_TCP ? "tcp" : "udp";
  row.state = socket.state;
  row.recv_q = socket.rqueue;
  row.send_q = socket.wqueue;
  row.local = socket.local.to_string();
  // An unconnected socket's peer is all zeros: "*" as ss prints it.
  row.peer = socket.peer.is_wildcard() && socket.peer.port == 0 ? "*" : socket.peer.to_string();
  row.inode = socket.inode;
  row.uid = socket.uid;
  row.owners = owners_of(scan, socket.inode);
  if (socket.state != SocketState::listen) row.tcp_info = socket.tcp;  // a listener's is all defaults
  row.drops = socket.drops;
  return row;
}

bool owned_by(const SocketRow& row, int pid) {
  return std::ranges::any_of(row.owners, [&](const SocketOwnerText& o) { return o.pid == pid; });
}

bool state_matches(const InspectFilter& filter, SocketState state) {
  return filter.states.empty() || std::ranges::find(filter.states, state) != filter.states.end();
}

// What every kind of socket is filtered on; the kind-specific tests are the callers'.
bool common_match(const InspectFilter& filter, const SocketRow& row, bool bound_datagram) {
  if (filter.pid && !owned_by(row, *filter.pid)) return false;
  if (filter.listening && row.state != SocketState::listen && !bound_datagram) return false;
  return state_matches(filter, row.state);
}

bool unix_match(const InspectFilter& filter, const diag::UnixSocketInfo& socket, const SocketRow& row) {
  if (!filter.unix_sockets || filter.port) return false;
  if (filter.path && (socket.name.empty() || row.local.find(*filter.path) == std::string::npos)) return false;
  const bool bound_datagram =
      socket.type == SOCK_DGRAM && socket.state == SocketState::close && !socket.name.empty();
  return common_match(filter, row, bound_datagram);
}

bool inet_match(const InspectFilter& filter, const diag::InetSocketInfo& socket, const SocketRow& row) {
  if ((socket.protocol == IPPROTO_TCP ? !filter.tcp : !filter.udp) || filter.path) return false;
  if (filter.port && socket.local.port != *filter.port && socket.peer.port != *filter.port) return false;
  const bool bound_datagram =
      socket.protocol == IPPROTO_UDP && socket.state == SocketState::close && socket.local.port != 0;
  return common_match(filter, row, bound_datagram);
}

// "(pid 12 nginx)" or "(pid 12 nginx, pid 13 nginx)"; empty if no owner is known.
std::string owner_note(const std::vector<SocketOwnerText>& owners) {
  if (owners.empty()) return {};
  std::string note = " (";
  for (std::size_t i = 0; i < owners.size(); ++i) {
    note +=
        (i == 0 ? "" : ", ") + std::string("pid ") + std::to_string(owners[i].pid) + " " + owners[i].command;
  }
  return note + ")";
}

void add_warnings(std::vector<diag::Trouble> found, const SocketRow& row, InspectSnapshot& snapshot) {
  for (diag::Trouble& trouble : found) {
    trouble.message += owner_note(row.owners);
    snapshot.warnings.push_back(std::move(trouble));
  }
}

// Which processes the fd-limit check covers: every one when nothing narrows the
// listing, the one --pid names, else the owners of the sockets shown.
bool process_in_scope(const InspectFilter& filter, const InspectSnapshot& snapshot, int pid) {
  if (filter.pid) return *filter.pid == pid;
  const bool narrowed = !filter.unix_sockets || !filter.tcp || !filter.udp || filter.listening ||
                        !filter.states.empty() || filter.port || filter.path;
  if (!narrowed) return true;
  return std::ranges::any_of(snapshot.rows, [&](const SocketRow& row) { return owned_by(row, pid); });
}

}  // namespace

Result<InspectSnapshot> take_snapshot(const InspectFilter& filter) {
  // Dump first, then walk /proc: a socket opened in between has no owner yet,
  // which reads better than an owner whose socket is missing.
  std::vector<diag::UnixSocketInfo> unix_sockets;
  if (filter.unix_sockets) {
    auto dumped = diag::dump_unix_sockets();
    if (!dumped) return fail(dumped.error());
    unix_sockets = std::move(*dumped);
  }
  std::vector<diag::InetSocketInfo> inet_sockets;
  for (const auto& [wanted, protocol] :
       {std::pair{filter.tcp, IPPROTO_TCP}, std::pair{filter.udp, IPPROTO_UDP}}) {
    if (!wanted) continue;
    auto dumped = diag::dump_inet_sockets(protocol);
    if (!dumped) return fail(dumped.error());
    inet_sockets.insert(inet_sockets.end(), dumped->begin(), dumped->end());
  }
  const diag::ProcessScan scan = diag::scan_processes();
  if (filter.pid && scan.find(*filter.pid) == nullptr) {
    // Alive but its fd directory refused us, or gone (or never there).
    std::error_code ec;
    const bool alive = std::filesystem::exists("/proc/" + std::to_string(*filter.pid), ec);
    if (alive) return fail(std::make_error_code(std::errc::permission_denied));
    return fail(errc::invalid_argument);
  }

  InspectSnapshot snapshot;
  snapshot.sockets_dumped = unix_sockets.size() + inet_sockets.size();
  snapshot.processes_read = scan.processes.size();
  snapshot.unreadable_processes = scan.unreadable;
  snapshot.truncated = scan.truncated;
  std::unordered_map<std::uint64_t, const diag::UnixSocketInfo*> by_inode;
  for (const diag::UnixSocketInfo& socket : unix_sockets) by_inode.emplace(socket.inode, &socket);
  for (const diag::UnixSocketInfo& socket : unix_sockets) {
    SocketRow row = unix_row(socket, scan, by_inode);
    if (!unix_match(filter, socket, row)) continue;
    add_warnings(diag::trouble_of(socket), row, snapshot);
    snapshot.rows.push_back(std::move(row));
  }
  for (const diag::InetSocketInfo& socket : inet_sockets) {
    SocketRow row = inet_row(socket, scan);
    if (!inet_match(filter, socket, row)) continue;
    add_warnings(diag::trouble_of(socket), row, snapshot);
    snapshot.rows.push_back(std::move(row));
  }
  for (const diag::ProcessInfo& process : scan.processes) {
    if (!process_in_scope(filter, snapshot, process.pid)) continue;
    if (auto trouble = diag::trouble_of(process)) snapshot.warnings.push_back(std::move(*trouble));
  }
  return snapshot;
}

}  // namespace sockit::cli
