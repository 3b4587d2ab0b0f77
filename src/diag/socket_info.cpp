// The printable side of the diag values: state names and addresses as ss spells them.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <string>

#include "sockit/diag/sockets.hpp"

namespace sockit::diag {
namespace {

struct StateName {
  SocketState state;
  const char* ss_name;      // as ss prints it
  const char* kernel_name;  // as include/net/tcp_states.h spells it
};

constexpr std::array<StateName, 13> kStates = {{
    {SocketState::unknown, "UNKNOWN", "UNKNOWN"},
    {SocketState::established, "ESTAB", "ESTABLISHED"},
    {SocketState::syn_sent, "SYN-SENT", "SYN_SENT"},
    {SocketState::syn_recv, "SYN-RECV", "SYN_RECV"},
    {SocketState::fin_wait1, "FIN-WAIT-1", "FIN_WAIT1"},
    {SocketState::fin_wait2, "FIN-WAIT-2", "FIN_WAIT2"},
    {SocketState::time_wait, "TIME-WAIT", "TIME_WAIT"},
    {SocketState::close, "UNCONN", "CLOSE"},
    {SocketState::close_wait, "CLOSE-WAIT", "CLOSE_WAIT"},
    {SocketState::last_ack, "LAST-ACK", "LAST_ACK"},
    {SocketState::listen, "LISTEN", "LISTEN"},
    {SocketState::closing, "CLOSING", "CLOSING"},
    {SocketState::new_syn_recv, "NEW-SYN-RECV", "NEW_SYN_RECV"},
}};

// Upper case, '_' for '-', and no '_' before a digit ("FIN-WAIT-1" -> "FIN_WAIT1").
std::string normalized(std::string_view text) {
  std::string out;
  for (const char c : text) {
    const char up = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (std::isdigit(static_cast<unsigned char>(up)) && !out.empty() && out.back() == '_') out.pop_back();
    out.push_back(up == '-' ? '_' : up);
  }
  return out;
}

}  // namespace

const char* state_name(SocketState state) noexcept {
  for (const StateName& entry : kStates) {
    if (entry.state == state) return entry.ss_name;
  }
  return "UNKNOWN";
}

std::optional<SocketState> parse_state(std::string_view text) noexcept {
  const std::string wanted = normalized(text);
  for (const StateName& entry : kStates) {
    if (entry.state == SocketState::unknown) continue;
    if (wanted == normalized(entry.ss_name) || wanted == entry.kernel_name) return entry.state;
  }
  return std::nullopt;
}

std::string UnixSocketInfo::display_name() const {
  if (is_abstract()) return "@" + name.substr(1);
  return name;
}

bool InetEndpoint::is_wildcard() const noexcept {
  const std::size_t size = family == AF_INET ? 4 : 16;
  return std::all_of(address.begin(), address.begin() + static_cast<std::ptrdiff_t>(size),
                     [](std::uint8_t b) { return b == 0; });
}

std::string InetEndpoint::to_string() const {
  const std::string port_text = ":" + std::to_string(port);
  if (is_wildcard()) return "*" + port_text;
  char text[INET6_ADDRSTRLEN] = {};
  if (::inet_ntop(family, address.data(), text, sizeof text) == nullptr) return "?" + port_text;
  return family == AF_INET6 ? "[" + std::string(text) + "]" + port_text : text + port_text;
}

}  // namespace sockit::diag
