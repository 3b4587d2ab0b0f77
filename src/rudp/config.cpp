#include "sockit/rudp/config.hpp"

#include "rudp/packet.hpp"

namespace sockit::rudp {

Status validate(const Config& c) {
  const bool ok = c.max_datagram_size >= wire::kMinDatagramSize && c.max_datagram_size <= wire::kMaxDatagramSize &&
                  c.max_message > 0 && c.receive_window >= c.max_message && !c.channels.empty() &&
                  c.channels.size() <= kMaxChannels && c.max_ack_delay > Duration(0) &&
                  c.max_ack_delay <= std::chrono::milliseconds(500) && c.idle_timeout > c.max_ack_delay &&
                  c.keepalive_interval > Duration(0) && c.keepalive_interval < c.idle_timeout &&
                  c.max_send_buffer > 0;
  if (!ok) return fail(errc::invalid_argument);
  return {};
}

Status validate(const EndpointConfig& c) {
  if (auto s = validate(c.connection); !s) return s;
  if (c.max_connections == 0 || c.max_pending_challenges == 0 || c.cookie_period < std::chrono::seconds(1) ||
      c.max_reassembly_bytes < c.connection.max_datagram_size) {
    return fail(errc::invalid_argument);
  }
  return {};
}

}  // namespace sockit::rudp
