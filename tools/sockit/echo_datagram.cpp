// The datagram half of `sockit echo`: recv_from, then send_to the sender.
#include <poll.h>

#include <cerrno>
#include <optional>
#include <vector>

#include "channel.hpp"
#include "echo_server.hpp"
#include "errors.hpp"
#include "log.hpp"
#include "signals.hpp"

namespace sockit::cli {
namespace {

constexpr std::size_t kMaxDatagram = 256 * 1024;  // above any default socket buffer
// Datagrams taken per wakeup before the signalfd is looked at again.
constexpr int kBurst = 64;

}  // namespace

Result<int> serve_echo_datagrams(DatagramSocket& socket, int signal_fd, EchoStats& stats) {
  std::vector<std::byte> buffer(kMaxDatagram);
  // Replies usually go to the same few senders: resolve an address once, not per datagram.
  std::optional<Address> cached_sender;
  Endpoint cached_endpoint;

  for (;;) {
    pollfd fds[2] = {{signal_fd, POLLIN, 0}, {socket.native_handle(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return fail(std::error_code(errno, std::system_category()));
    }
    if (fds[0].revents != 0) return take_signal(signal_fd);
    if (fds[1].revents == 0) continue;

    for (int i = 0; i < kBurst; ++i) {
      auto got = socket.recv_from(buffer, try_once());
      if (!got) {
        if (would_block(got.error())) break;
        // Oversized datagrams are dropped (echoing a cut one would be a lie); other
        // errors belong to one client (an ICMP error for an old reply), not to us.
        note("receive: {}", describe(got.error()));
        continue;
      }
      ++stats.datagrams;
      stats.bytes_in += got->size;
      if (got->from.is_unnamed()) {
        note("datagram from an unbound Unix socket: no address to answer");
        continue;
      }
      if (got->from != cached_sender) {
        auto endpoints = got->from.resolve();
        if (!endpoints || endpoints->empty()) {
          note("cannot answer {}: {}", got->from.to_string(),
               endpoints ? "no address" : describe(endpoints.error()));
          continue;
        }
        cached_sender = got->from;
        cached_endpoint = endpoints->front();
      }
      // A full socket buffer drops the reply, as a datagram service may: waiting would
      // let one slow client stall every other.
      auto sent = socket.send_to(std::span(buffer).first(got->size), cached_endpoint, try_once());
      if (!sent) {
        note("send to {}: {}: reply dropped", got->from.to_string(), describe(sent.error()));
        continue;
      }
      stats.bytes_out += got->size;
    }
  }
}

}  // namespace sockit::cli
