// select_echo_server: an echo server for many clients in one thread, multiplexed
// with select(2) over sockit sockets.
//
//   select_echo_server [ADDRESS] [--max-clients N]
//     ADDRESS        tcp://HOST:PORT or unix:PATH; default tcp://127.0.0.1:0
//                    (loopback, a free port: never "any" unless you ask for it)
//     --max-clients  exit once N clients have disconnected (default: run until
//                    SIGTERM or SIGINT)
//   Prints "listening on ADDR" with the real port, then one line per client.
//
// Decisions, and what they cost:
//  - select's fd_set is a bitmap of FD_SETSIZE (1024) bits; FD_SET on a larger
//    descriptor writes past its end. Every descriptor is checked before it goes
//    into a set: a connection that lands above the limit is refused (closed at
//    once), never served. Scanning is O(highest fd) per call: select is the
//    portable fallback, poll/epoll are what a real server wants.
//  - Partial sends: each client has a pending-output buffer. We send what the
//    kernel takes, keep the rest and watch for writability; while a client has
//    kHighWater bytes pending we stop reading from it, so a client that sends but
//    never reads costs a bounded amount of memory and is slowed by TCP flow control.
//    The alternative, send_all with a short deadline, would stall every other
//    client for that long whenever one is slow, and on expiry leave a stream cut
//    mid-message: in a one-thread server nothing may wait on one client.
//  - SIGTERM/SIGINT are blocked and arrive as data on a signalfd that select
//    watches with the sockets. A handler setting a flag would race (a signal
//    landing between the flag check and select() goes unnoticed until some client
//    wakes the server) and runs in async-signal context; pselect closes the race
//    but still needs the handler.
//  - Sockets are non-blocking, so recv_some/send_some report EAGAIN instead of waiting.
#include <sys/select.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstring>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "sockit/sockit.hpp"

using namespace std::chrono_literals;

namespace {

constexpr std::size_t kHighWater = 256 * 1024;

struct Client {
  sockit::StreamSocket socket;
  std::string name;
  std::vector<std::byte> pending;  // echoed bytes the kernel has not taken yet
  bool peer_finished = false;      // the client half-closed: flush, then close
};

bool would_block(std::error_code ec) { return ec == std::errc::resource_unavailable_try_again; }

class EchoServer {
 public:
  // Both descriptors were checked against FD_SETSIZE by the caller.
  EchoServer(sockit::Listener listener, sockit::Fd stop_signals)
      : listener_(std::move(listener)), stop_signals_(std::move(stop_signals)) {}

  // Serves until `max_clients` (0: no limit) have disconnected or a stop signal arrives.
  int run(long max_clients) {
    int stop_signal = 0;
    while (stop_signal == 0 && (max_clients == 0 || disconnected_ < max_clients)) {
      fd_set readable;
      fd_set writable;
      FD_ZERO(&readable);
      FD_ZERO(&writable);
      const int listen_fd = listener_.native_handle();
      FD_SET(listen_fd, &readable);
      FD_SET(stop_signals_.get(), &readable);
      int max_fd = std::max(listen_fd, stop_signals_.get());
      for (const Client& c : clients_) {  // each was checked < FD_SETSIZE when accepted
        const int fd = c.socket.native_handle();
        if (!c.peer_finished && c.pending.size() < kHighWater) FD_SET(fd, &readable);
        if (!c.pending.empty()) FD_SET(fd, &writable);
        max_fd = std::max(max_fd, fd);
      }
      // After EMFILE, stop watching the listener for a moment instead of spinning on it.
      timeval pause{0, 100'000};
      if (accept_paused_) FD_CLR(listen_fd, &readable);
      const int ready =
          ::select(max_fd + 1, &readable, &writable, nullptr, accept_paused_ ? &pause : nullptr);
      accept_paused_ = false;
      if (ready < 0) {
        if (errno == EINTR) continue;  // some other signal (SIGSTOP/SIGCONT)
        std::cerr << "select_echo_server: select: " << std::strerror(errno) << '\n';
        return 1;
      }
      if (FD_ISSET(stop_signals_.get(), &readable)) stop_signal = read_stop_signal();
      // Clients first: a descriptor accepted below may reuse the number of one
      // closed here, and must not inherit its bits from this round's sets.
      for (Client& c : clients_) {
        const int fd = c.socket.native_handle();
        if (FD_ISSET(fd, &writable)) flush(c);
        if (c.socket.is_open() && FD_ISSET(fd, &readable)) receive(c);
      }
      std::erase_if(clients_, [](const Client& c) { return !c.socket.is_open(); });
      if (FD_ISSET(listen_fd, &readable)) accept_one();
    }
    if (stop_signal != 0) std::cout << "stopping on signal " << stop_signal << '\n';
    std::cout << disconnected_ << " client(s) served" << std::endl;
    return 0;
  }

 private:
  int read_stop_signal() {
    signalfd_siginfo info{};
    const ssize_t n = ::read(stop_signals_.get(), &info, sizeof info);
    return n == static_cast<ssize_t>(sizeof info) ? static_cast<int>(info.ssi_signo) : 0;
  }

  void accept_one() {
    auto conn = listener_.accept(0ms);  // select said ready; never wait here
    if (!conn) {
      const std::error_code ec = conn.error();
      if (ec == sockit::errc::timed_out || ec == std::errc::connection_aborted) return;  // gone already
      std::cerr << "select_echo_server: accept: " << ec.message() << '\n';
      accept_paused_ = ec == std::errc::too_many_files_open || ec == std::errc::too_many_files_open_in_system;
      return;
    }
    if (conn->native_handle() >= FD_SETSIZE) {
      std::cerr << "select_echo_server: refusing a connection: fd " << conn->native_handle()
                << " >= FD_SETSIZE (" << FD_SETSIZE << ")\n";
      return;  // closed by its destructor
    }
    if (auto s = conn->set_non_blocking(true); !s) {
      std::cerr << "select_echo_server: set_non_blocking: " << s.error().message() << '\n';
      return;
    }
    auto peer = conn->peer_address();
    Client client{std::move(*conn), peer ? peer->to_string() : "a client", {}, false};
    std::cout << "connected: " << client.name << '\n';
    clients_.push_back(std::move(client));
  }

  void receive(Client& c) {
    auto n = c.socket.recv_some(buffer_);
    if (!n) {
      if (!would_block(n.error())) drop(c, n.error().message());
      return;
    }
    if (*n == 0) {
      c.peer_finished = true;
    } else {
      c.pending.insert(c.pending.end(), buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(*n));
    }
    flush(c);
  }

  void flush(Client& c) {
    while (!c.pending.empty()) {
      auto sent = c.socket.send_some(c.pending);
      if (!sent) {
        if (!would_block(sent.error())) drop(c, sent.error().message());
        return;
      }
      c.pending.erase(c.pending.begin(), c.pending.begin() + static_cast<std::ptrdiff_t>(*sent));
    }
    if (c.peer_finished) drop(c, "closed by peer");
  }

  void drop(Client& c, std::string_view why) {
    std::cout << "disconnected: " << c.name << " (" << why << ")\n";
    c.socket.close();
    ++disconnected_;
  }

  sockit::Listener listener_;
  sockit::Fd stop_signals_;  // signalfd for SIGTERM and SIGINT
  std::vector<Client> clients_;
  std::array<std::byte, 64 * 1024> buffer_{};
  long disconnected_ = 0;
  bool accept_paused_ = false;
};

int usage() {
  std::cerr << "usage: select_echo_server [ADDRESS] [--max-clients N]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string text = "tcp://127.0.0.1:0";
  long max_clients = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--max-clients" && i + 1 < argc) {
      const std::string_view value = argv[++i];
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), max_clients);
      if (ec != std::errc() || end != value.data() + value.size() || max_clients < 0) return usage();
    } else if (!arg.starts_with("-")) {
      text = arg;
    } else {
      return usage();
    }
  }

  // Blocked signals stay pending until the signalfd reads them, so one sent
  // during start-up is not lost.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigprocmask(SIG_BLOCK, &stop_signals, nullptr);
  sockit::Fd signal_fd(::signalfd(-1, &stop_signals, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!signal_fd || signal_fd.get() >= FD_SETSIZE) {
    std::cerr << "select_echo_server: signalfd: " << (signal_fd ? "above FD_SETSIZE" : std::strerror(errno))
              << '\n';
    return 1;
  }

  auto address = sockit::Address::parse(text);
  if (!address) {
    std::cerr << "select_echo_server: bad address '" << text << "': " << address.error().message() << '\n';
    return 2;
  }
  auto listener = sockit::listen(*address);
  if (!listener) {
    std::cerr << "select_echo_server: cannot listen on " << text << ": " << listener.error().message()
              << '\n';
    return 1;
  }
  if (listener->native_handle() >= FD_SETSIZE) {
    std::cerr << "select_echo_server: the listening fd is above FD_SETSIZE; select cannot watch it\n";
    return 1;
  }
  auto bound = listener->local_address();  // the real port when 0 was asked for
  if (!bound) {
    std::cerr << "select_echo_server: local address: " << bound.error().message() << '\n';
    return 1;
  }
  std::cout << "listening on " << bound->to_string() << std::endl;
  return EchoServer(std::move(*listener), std::move(signal_fd)).run(max_clients);
}
