#include "datagram_relay.hpp"

#include <poll.h>

#include <cerrno>
#include <optional>
#include <vector>

#include "channel.hpp"
#include "errors.hpp"
#include "hex_dump.hpp"
#include "log.hpp"
#include "out_queue.hpp"
#include "signals.hpp"
#include "stdio.hpp"

namespace sockit::cli {
namespace {

constexpr std::size_t kMaxDatagram = 256 * 1024;  // above any default socket buffer

std::unexpected<PumpError> failure(std::string_view detail, std::error_code ec) {
  return std::unexpected(PumpError{detail, ec});
}

}  // namespace

PumpResult relay_datagrams(DatagramSocket& socket, const SessionOptions& options, int signal_fd) {
  std::vector<std::byte> datagram(kMaxDatagram);
  std::vector<std::byte> from_stdin(send_chunk_size(socket.transport()));
  OutQueue pending;  // stdin chunks, one datagram each
  bool stdin_open = true;
  std::optional<Address> last_sender;
  std::optional<Endpoint> reply_to;  // resolved once per new sender, not per datagram
  HexDump hex(options.hex, {});
  const auto idle_after = [&] { return options.idle_timeout ? Deadline::after(*options.idle_timeout) : Deadline(); };
  Deadline idle = idle_after();
  Deadline quit;  // --quit-after, from the end of stdin

  for (;;) {
    if (idle.expired()) return PumpEnd::idle_timeout;
    if (quit.expired()) return PumpEnd::quit_after;
    pollfd fds[3] = {};
    fds[0] = {socket.native_handle(),
              static_cast<short>(POLLIN | (!pending.empty() && reply_to ? POLLOUT : 0)), 0};
    fds[1] = {signal_fd, POLLIN, 0};
    const bool poll_stdin = stdin_open && !pending.above_high_water();
    if (poll_stdin) fds[2] = {kStdin, POLLIN, 0};
    if (::poll(fds, poll_stdin ? 3 : 2, earliest(idle, quit).poll_timeout_ms()) < 0) {
      if (errno == EINTR) continue;
      return failure("poll", std::error_code(errno, std::system_category()));
    }
    if (fds[1].revents != 0) {
      take_signal(signal_fd);
      return PumpEnd::stopped;
    }

    if (poll_stdin && fds[2].revents != 0) {
      auto n = read_some(kStdin, from_stdin);
      if (!n && !would_block(n.error())) return failure("read stdin", n.error());
      if (n && *n == 0) {
        stdin_open = false;
        if (options.quit_after) quit = Deadline::after(*options.quit_after);
      }
      if (n && *n > 0) pending.push(std::span(from_stdin).first(*n));
    }

    if (fds[0].revents & (POLLIN | POLLERR)) {
      auto got = socket.recv_from(datagram, try_once());
      if (got) {
        hex.received(std::span(datagram).first(got->size));
        idle = idle_after();
        if (auto w = write_all(kStdout, std::span(datagram).first(got->size)); !w) {
          if (w.error() == std::errc::broken_pipe) return PumpEnd::stdout_closed;
          return failure("write stdout", w.error());
        }
        if (!got->from.is_unnamed() && got->from != last_sender) {
          note("datagram from {}", got->from.to_string());
          last_sender = got->from;
          auto endpoints = got->from.resolve();
          if (endpoints && !endpoints->empty()) reply_to = endpoints->front();
        }
      } else if (got.error() == errc::message_truncated) {
        note("dropped a datagram larger than {} bytes", kMaxDatagram);
      } else if (!would_block(got.error())) {
        // An ICMP error for an earlier reply says that client is gone, not that we are broken.
        note("receive: {}", describe(got.error()));
      }
    }

    while (!pending.empty() && reply_to) {
      auto sent = socket.send_to(pending.front(), *reply_to, try_once());
      if (!sent && would_block(sent.error())) break;
      if (!sent) note("send to {}: {}: datagram dropped", last_sender->to_string(), describe(sent.error()));
      if (sent) {
        hex.sent(pending.front());
        idle = idle_after();
      }
      pending.pop_front();
    }
  }
}

}  // namespace sockit::cli
