#include "bench_transports.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include <fmt/core.h>

#include "sockit/connect.hpp"
#include "sockit/datagram_socket.hpp"
#include "sockit/listener.hpp"
#include "sockit/socket_pair.hpp"

namespace sockit::cli {
namespace {

// The largest UDP payload over IPv4: 65,535 minus the IP and UDP headers.
constexpr std::size_t kMaxUdpPayload = 65507;
// ShmRingOptions' default capacity, less the length word of each message.
constexpr std::size_t kMaxRingMessage = (std::size_t{1} << 20) - 4;

// Designated initializers: each entry names what it sets, the rest keep defaults.
constexpr BenchTransport kTransports[] = {
    {.name = "pipe", .description = "pipe(2), one per direction", .kind = BenchKind::pipe},
    {.name = "fifo", .description = "named pipe (FIFO) opened by its path, one per direction", .kind = BenchKind::pipe},
    {.name = "socketpair-stream", .description = "socketpair(AF_UNIX, SOCK_STREAM)", .kind = BenchKind::stream,
     .socket = Transport::unix_stream},
    {.name = "socketpair-dgram", .description = "socketpair(AF_UNIX, SOCK_DGRAM)", .kind = BenchKind::datagram,
     .socket = Transport::unix_dgram},
    {.name = "socketpair-seqpacket", .description = "socketpair(AF_UNIX, SOCK_SEQPACKET)",
     .kind = BenchKind::seqpacket, .socket = Transport::unix_seqpacket},
    {.name = "unix-stream", .description = "Unix stream socket on a path", .kind = BenchKind::stream,
     .socket = Transport::unix_stream},
    {.name = "unix-dgram", .description = "Unix datagram sockets on paths", .kind = BenchKind::datagram,
     .socket = Transport::unix_dgram},
    {.name = "unix-seqpacket", .description = "Unix seqpacket socket on a path", .kind = BenchKind::seqpacket,
     .socket = Transport::unix_seqpacket},
    {.name = "unix-stream-abstract", .description = "Unix stream socket, abstract name", .kind = BenchKind::stream,
     .socket = Transport::unix_stream},
    {.name = "unix-dgram-abstract", .description = "Unix datagram sockets, abstract names",
     .kind = BenchKind::datagram, .socket = Transport::unix_dgram},
    {.name = "unix-seqpacket-abstract", .description = "Unix seqpacket socket, abstract name",
     .kind = BenchKind::seqpacket, .socket = Transport::unix_seqpacket},
    {.name = "tcp", .description = "TCP over 127.0.0.1 (Nagle on: the default)", .kind = BenchKind::stream,
     .socket = Transport::tcp},
    {.name = "tcp-nodelay", .description = "TCP over 127.0.0.1 with TCP_NODELAY", .kind = BenchKind::stream,
     .socket = Transport::tcp, .no_delay = true},
    {.name = "udp", .description = "UDP over 127.0.0.1", .kind = BenchKind::datagram, .socket = Transport::udp,
     .max_message = kMaxUdpPayload, .too_large = "larger than a UDP payload can be (65,507 bytes over IPv4)"},
    {.name = "shm", .description = "sockit::ShmRing: shared-memory rings in a memfd", .kind = BenchKind::shm,
     .max_message = kMaxRingMessage,
     .too_large = "larger than the ring's largest message (1 MiB minus its 4-byte length)"},
};

std::error_code last_error() { return {errno, std::system_category()}; }

bool is_abstract(const BenchTransport& t) { return t.name.ends_with("-abstract"); }

// The address of one end: a path in temp_dir or an abstract name, per transport.
Result<Address> unix_address(const BenchTransport& t, const std::string& temp_dir, unsigned serial, char side) {
  const std::string_view scheme = *t.socket == Transport::unix_dgram       ? "unix-dgram:"
                                  : *t.socket == Transport::unix_seqpacket ? "unix-seqpacket:"
                                                                           : "unix:";
  const std::string name = is_abstract(t) ? fmt::format("@sockit-bench-{}-{}-{}", ::getpid(), serial, side)
                                          : fmt::format("{}/{}-{}.sock", temp_dir, serial, side);
  return Address::parse(fmt::format("{}{}", scheme, name));
}

// A connected pair through a listener (stream or seqpacket): the listener and its
// path go away when this returns; the two connected sockets stay.
Result<BenchLink> connected_through_listener(const BenchTransport& t, const Address& address) {
  auto listener = listen(address);
  if (!listener) return std::unexpected(listener.error());
  auto bound = listener->local_address();
  if (!bound) return std::unexpected(bound.error());
  const auto deadline = Deadline::after(std::chrono::seconds(5));
  BenchLink link;
  if (t.kind == BenchKind::seqpacket) {
    auto client = connect_seqpacket(*bound, deadline);
    if (!client) return std::unexpected(client.error());
    auto server = listener->accept_seqpacket(deadline);
    if (!server) return std::unexpected(server.error());
    link.parent_in = client->release();
    link.child_in = server->release();
    return link;
  }
  auto client = connect(*bound, deadline);
  if (!client) return std::unexpected(client.error());
  auto server = listener->accept(deadline);
  if (!server) return std::unexpected(server.error());
  if (t.no_delay) {
    if (auto s = client->set_no_delay(true); !s) return std::unexpected(s.error());
    if (auto s = server->set_no_delay(true); !s) return std::unexpected(s.error());
  }
  link.parent_in = client->release();
  link.child_in = server->release();
  return link;
}

// connect(2) of a socket that is already bound. The library's
// DatagramSocket::connect makes a fresh (auto-bound) socket; two datagram sockets
// that are each bound to their own address and connected to the other's need
// connect on a bound one, which only this set-up does.
Status connect_bound(const DatagramSocket& from, const DatagramSocket& to) {
  auto address = to.local_address();
  if (!address) return std::unexpected(address.error());
  auto endpoints = address->resolve();
  if (!endpoints) return std::unexpected(endpoints.error());
  const Endpoint& e = endpoints->front();
  if (::connect(from.native_handle(), e.get(), e.length) != 0) return std::unexpected(last_error());
  return {};
}

Result<BenchLink> connected_datagrams(const Address& a, const Address& b) {
  auto first = DatagramSocket::bind(a);
  if (!first) return std::unexpected(first.error());
  auto second = DatagramSocket::bind(b);
  if (!second) return std::unexpected(second.error());
  if (auto s = connect_bound(*first, *second); !s) return std::unexpected(s.error());
  if (auto s = connect_bound(*second, *first); !s) return std::unexpected(s.error());
  BenchLink link;
  link.parent_in = first->release();
  link.child_in = second->release();
  // Connected, they no longer need their names; released sockets leave their files.
  for (const Address* address : {&a, &b}) {
    if (address->is_unix() && !address->is_abstract()) ::unlink(address->path().c_str());
  }
  return link;
}

// A FIFO opened by its path: the read end first and non-blocking (which never
// waits for a writer), then the write end (which then finds its reader and does
// not wait either), then the read end made blocking. Both opens happen before the
// fork, so neither process can be left waiting for the other to open. The path is
// unlinked at once: the open descriptors keep the FIFO.
Status open_fifo(const std::string& path, Fd& read_end, Fd& write_end) {
  if (::mkfifo(path.c_str(), 0600) != 0) return std::unexpected(last_error());
  read_end = Fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  const int open_errno = errno;
  if (read_end) write_end = Fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  const int write_errno = errno;
  ::unlink(path.c_str());
  if (!read_end) return std::unexpected(std::error_code(open_errno, std::system_category()));
  if (!write_end) return std::unexpected(std::error_code(write_errno, std::system_category()));
  if (::fcntl(read_end.get(), F_SETFL, 0) != 0) return std::unexpected(last_error());
  return {};
}

Result<BenchLink> pipes(const BenchTransport& t, const std::string& temp_dir, unsigned serial) {
  BenchLink link;
  if (t.name == "fifo") {
    const std::string base = fmt::format("{}/{}", temp_dir, serial);
    if (auto s = open_fifo(base + "-to-child.fifo", link.child_in, link.parent_out); !s) return std::unexpected(s.error());
    if (auto s = open_fifo(base + "-to-parent.fifo", link.parent_in, link.child_out); !s) {
      return std::unexpected(s.error());
    }
    return link;
  }
  int to_child[2];
  int to_parent[2];
  if (::pipe2(to_child, O_CLOEXEC) != 0) return std::unexpected(last_error());
  link.child_in = Fd(to_child[0]);
  link.parent_out = Fd(to_child[1]);
  if (::pipe2(to_parent, O_CLOEXEC) != 0) return std::unexpected(last_error());
  link.parent_in = Fd(to_parent[0]);
  link.child_out = Fd(to_parent[1]);
  return link;
}

template <typename Pair>
BenchLink link_of(Pair& pair) {
  BenchLink link;
  link.parent_in = pair.first.release();
  link.child_in = pair.second.release();
  return link;
}

}  // namespace

std::span<const BenchTransport> bench_transports() { return kTransports; }

const BenchTransport* find_bench_transport(std::string_view name) {
  for (const BenchTransport& t : kTransports) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

Result<BenchLink> make_bench_link(const BenchTransport& t, const std::string& temp_dir, unsigned serial) {
  if (t.kind == BenchKind::pipe) return pipes(t, temp_dir, serial);
  if (t.kind == BenchKind::shm) {
    auto pair = stream_socket_pair();
    if (!pair) return std::unexpected(pair.error());
    return link_of(*pair);
  }
  if (t.name.starts_with("socketpair-")) {
    if (t.kind == BenchKind::stream) {
      auto pair = stream_socket_pair();
      if (!pair) return std::unexpected(pair.error());
      return link_of(*pair);
    }
    if (t.kind == BenchKind::datagram) {
      auto pair = datagram_socket_pair();
      if (!pair) return std::unexpected(pair.error());
      return link_of(*pair);
    }
    auto pair = seqpacket_socket_pair();
    if (!pair) return std::unexpected(pair.error());
    return link_of(*pair);
  }
  if (*t.socket == Transport::tcp) return connected_through_listener(t, *Address::parse("tcp://127.0.0.1:0"));
  if (*t.socket == Transport::udp) {
    return connected_datagrams(*Address::parse("udp://127.0.0.1:0"), *Address::parse("udp://127.0.0.1:0"));
  }
  auto first = unix_address(t, temp_dir, serial, 'a');
  if (!first) return std::unexpected(first.error());
  if (t.kind == BenchKind::datagram) {
    auto second = unix_address(t, temp_dir, serial, 'b');
    if (!second) return std::unexpected(second.error());
    return connected_datagrams(*first, *second);
  }
  return connected_through_listener(t, *first);
}

}  // namespace sockit::cli
