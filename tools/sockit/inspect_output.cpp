#include "inspect_output.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <array>
#include <vector>

#include "text_escape.hpp"

namespace sockit::cli {
namespace {

std::string owners_text(const std::vector<SocketOwnerText>& owners) {
  std::string text;
  for (const SocketOwnerText& owner : owners) {
    text += fmt::format("{}{}/{}", text.empty() ? "" : ",", owner.pid, printable(owner.command));
  }
  return text.empty() ? "-" : text;
}

// A rate as ss prints one: bits per second with a unit.
std::string rate_text(std::uint64_t bytes_per_second) {
  const double bits = static_cast<double>(bytes_per_second) * 8;
  if (bits >= 1e9) return fmt::format("{:.1f}Gbps", bits / 1e9);
  if (bits >= 1e6) return fmt::format("{:.1f}Mbps", bits / 1e6);
  if (bits >= 1e3) return fmt::format("{:.1f}Kbps", bits / 1e3);
  return fmt::format("{:.0f}bps", bits);
}

std::string details_text(const SocketRow& row) {
  std::string text;
  const auto add = [&](const std::string& item) { text += (text.empty() ? "" : " ") + item; };
  if (row.state == diag::SocketState::listen) add(fmt::format("backlog={}/{}", row.recv_q, row.send_q));
  if (row.peer_inode) {
    const std::string who = row.peer_owners.empty() ? "" : "(" + owners_text(row.peer_owners) + ")";
    add(fmt::format("peer={}{}", *row.peer_inode, who));
  }
  if (row.tcp_info) {
    const diag::TcpInfo& tcp = *row.tcp_info;
    add(fmt::format("rtt={:.3f}/{:.3f}ms cwnd={} retrans={}/{}", tcp.rtt_us / 1000.0, tcp.rttvar_us / 1000.0,
                    tcp.snd_cwnd, tcp.retransmits, tcp.total_retrans));
    if (tcp.delivery_rate && *tcp.delivery_rate > 0) add("rate=" + rate_text(*tcp.delivery_rate));
  }
  if (row.drops) add(fmt::format("drops={}", *row.drops));
  return text;
}

std::string owners_json(const std::vector<SocketOwnerText>& owners) {
  std::string text = "[";
  for (const SocketOwnerText& owner : owners) {
    text += fmt::format("{}{{\"pid\":{},\"command\":{},\"fd\":{}}}", text.size() > 1 ? "," : "", owner.pid,
                        json_string(owner.command), owner.fd);
  }
  return text + "]";
}

std::string row_json(const SocketRow& row) {
  std::string text = fmt::format(
      "{{\"netid\":\"{}\",\"state\":\"{}\",\"recv_q\":{},\"send_q\":{},\"local\":{},\"peer\":{},\"inode\":{},"
      "\"processes\":{}",
      row.netid, diag::state_name(row.state), row.recv_q, row.send_q, json_string(row.local),
      json_string(row.peer), row.inode, owners_json(row.owners));
  if (row.uid) text += fmt::format(",\"uid\":{}", *row.uid);
  if (row.state == diag::SocketState::listen) {
    text += fmt::format(",\"backlog\":{{\"waiting\":{},\"max\":{}}}", row.recv_q, row.send_q);
  }
  if (row.peer_inode) {
    text += fmt::format(",\"peer_inode\":{},\"peer_processes\":{}", *row.peer_inode,
                        owners_json(row.peer_owners));
  }
  if (row.tcp_info) {
    const diag::TcpInfo& tcp = *row.tcp_info;
    text += fmt::format(
        ",\"tcp_info\":{{\"rtt_us\":{},\"rttvar_us\":{},\"snd_cwnd\":{},\"retransmits\":{},"
        "\"total_retrans\":{}",
        tcp.rtt_us, tcp.rttvar_us, tcp.snd_cwnd, tcp.retransmits, tcp.total_retrans);
    if (tcp.delivery_rate) text += fmt::format(",\"delivery_rate\":{}", *tcp.delivery_rate);
    text += "}";
  }
  if (row.drops) text += fmt::format(",\"drops\":{}", *row.drops);
  return text + "}";
}

}  // namespace

std::string format_table(const InspectSnapshot& snapshot) {
  constexpr std::size_t kColumns = 9;
  using Line = std::array<std::string, kColumns>;
  std::vector<Line> lines = {
      {"Netid", "State", "Recv-Q", "Send-Q", "Local", "Peer", "Inode", "Process", "Details"}};
  for (const SocketRow& row : snapshot.rows) {
    lines.push_back({row.netid, diag::state_name(row.state), std::to_string(row.recv_q),
                     std::to_string(row.send_q), printable(row.local), printable(row.peer),
                     std::to_string(row.inode), owners_text(row.owners), details_text(row)});
  }
  std::array<std::size_t, kColumns> widths{};
  for (const Line& line : lines) {
    for (std::size_t i = 0; i < kColumns; ++i) widths[i] = std::max(widths[i], line[i].size());
  }
  std::string text;
  for (const Line& line : lines) {
    std::string out;
    for (std::size_t i = 0; i < kColumns; ++i) {
      // Numbers right-aligned as ss does; the last column is not padded.
      const bool number = i == 2 || i == 3;
      if (i + 1 == kColumns) {
        out += line[i];
      } else {
        out += number ? fmt::format("{:>{}}  ", line[i], widths[i])
                      : fmt::format("{:<{}}  ", line[i], widths[i]);
      }
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    text += out + "\n";
  }
  if (!snapshot.warnings.empty()) {
    text += "\nWarnings:\n";
    for (const diag::Trouble& trouble : snapshot.warnings) {
      text += fmt::format("  {}: {}\n", diag::trouble_name(trouble.kind), printable(trouble.message));
    }
  }
  return text;
}

std::string format_json(const InspectSnapshot& snapshot) {
  std::string text = "{\"sockets\":[";
  for (std::size_t i = 0; i < snapshot.rows.size(); ++i) {
    text += (i == 0 ? "" : ",") + row_json(snapshot.rows[i]);
  }
  text += "],\"warnings\":[";
  for (std::size_t i = 0; i < snapshot.warnings.size(); ++i) {
    const diag::Trouble& trouble = snapshot.warnings[i];
    text += fmt::format("{}{{\"kind\":\"{}\",\"message\":{}", i == 0 ? "" : ",",
                        diag::trouble_name(trouble.kind), json_string(trouble.message));
    if (trouble.inode != 0) text += fmt::format(",\"inode\":{}", trouble.inode);
    if (trouble.pid != 0) text += fmt::format(",\"pid\":{}", trouble.pid);
    text += "}";
  }
  text += fmt::format("],\"unreadable_processes\":{},\"truncated\":{}}}\n", snapshot.unreadable_processes,
                      snapshot.truncated);
  return text;
}

}  // namespace sockit::cli
