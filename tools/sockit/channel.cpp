#include "channel.hpp"

namespace sockit::cli {
namespace {

// Streams are read in pieces of this size; records up to the size below, which is
// more than the default socket buffers (~208 KiB) let a single record be.
constexpr std::size_t kStreamChunk = 64 * 1024;
constexpr std::size_t kMaxRecord = 256 * 1024;
// 65535 minus the IPv4 and UDP headers: the most one UDP datagram can carry.
constexpr std::size_t kMaxUdpPayload = 65507;

}  // namespace

bool would_block(const std::error_code& ec) noexcept {
  return ec == std::errc::resource_unavailable_try_again || ec == std::errc::operation_would_block ||
         ec == errc::timed_out;
}

Deadline try_once() noexcept { return Deadline::at(Deadline::Clock::now()); }

// NOLINTNEXTLINE(bugprone-exception-escape): visit throws only on a valueless variant, which a Channel never is.
int Channel::fd() const noexcept {
  return std::visit([](const auto& s) { return s.native_handle(); }, socket_);
}

// NOLINTNEXTLINE(bugprone-exception-escape): as fd() above.
const Socket& Channel::socket() const noexcept {
  return std::visit([](const auto& s) -> const Socket& { return s; }, socket_);
}

std::size_t Channel::receive_buffer_size() const noexcept {
  return keeps_boundaries() ? kMaxRecord : kStreamChunk;
}

std::size_t send_chunk_size(Transport transport) noexcept {
  return transport == Transport::udp ? kMaxUdpPayload : kStreamChunk;
}

std::size_t Channel::send_chunk_size() const noexcept {
  return cli::send_chunk_size(std::visit([](const auto& s) { return s.transport(); }, socket_));
}

Result<std::size_t> Channel::recv(std::span<std::byte> buffer) {
  if (auto* s = std::get_if<StreamSocket>(&socket_)) return s->recv_some(buffer, try_once());
  if (auto* s = std::get_if<SeqPacketSocket>(&socket_)) return s->recv(buffer, try_once());
  return std::get<DatagramSocket>(socket_).recv(buffer, try_once());
}

Result<bool> Channel::flush(OutQueue& queue) {
  while (!queue.empty()) {
    if (auto* s = std::get_if<StreamSocket>(&socket_)) {
      auto sent = s->send_some(queue.front(), try_once());
      if (!sent) return would_block(sent.error()) ? Result<bool>(false) : fail(sent.error());
      queue.consume(*sent);
      continue;
    }
    auto sent = std::holds_alternative<SeqPacketSocket>(socket_)
                    ? std::get<SeqPacketSocket>(socket_).send(queue.front(), try_once())
                    : std::get<DatagramSocket>(socket_).send(queue.front(), try_once());
    if (!sent) return would_block(sent.error()) ? Result<bool>(false) : fail(sent.error());
    queue.pop_front();
  }
  return true;
}

Status Channel::shutdown_write() {
  return std::visit([](auto& s) { return s.shutdown(ShutdownHow::write); }, socket_);
}

Status Channel::set_non_blocking(bool on) {
  return std::visit([on](auto& s) { return s.set_non_blocking(on); }, socket_);
}

Result<std::error_code> Channel::pending_error() const {
  return std::visit([](const auto& s) { return s.pending_error(); }, socket_);
}

Result<Address> Channel::peer_address() const {
  return std::visit([](const auto& s) { return s.peer_address(); }, socket_);
}

Result<Address> Channel::local_address() const {
  return std::visit([](const auto& s) { return s.local_address(); }, socket_);
}

Result<Credentials> Channel::peer_credentials() const {
  return std::visit(
      [](const auto& s) -> Result<Credentials> {
        if (s.transport() == Transport::tcp || s.transport() == Transport::udp) return fail(errc::wrong_transport);
        return sockit::peer_credentials(s);
      },
      socket_);
}

Result<Channel> connect_channel(const Address& address, Deadline deadline, const ConnectOptions& options) {
  if (address.is_datagram()) {
    auto s = DatagramSocket::connect(address, options);
    if (!s) return fail(s.error());
    return Channel(std::move(*s));
  }
  if (address.transport() == Transport::unix_seqpacket) {
    if (options.family != AF_UNSPEC || options.local_address) return fail(errc::invalid_argument);
    auto s = connect_seqpacket(address, deadline);
    if (!s) return fail(s.error());
    return Channel(std::move(*s));
  }
  auto s = connect(address, deadline, options);
  if (!s) return fail(s.error());
  return Channel(std::move(*s));
}

Result<Channel> accept_channel(Listener& listener, Deadline deadline, bool non_blocking) {
  auto fd = listener.accept_fd(deadline, non_blocking);
  if (!fd) return fail(fd.error());
  if (listener.transport() == Transport::unix_seqpacket) return Channel(SeqPacketSocket(std::move(*fd)));
  return Channel(StreamSocket(std::move(*fd), listener.transport()));
}

}  // namespace sockit::cli
