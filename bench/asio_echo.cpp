// A peer of bench-echo: the echo server as standalone Asio's own examples write it
// (Debian's libasio-dev, header-only, `#include <asio.hpp>`), not tuned beyond them.
// Idioms followed, from Asio's cpp11 examples echo/async_tcp_echo_server.cpp and
// local/stream_server.cpp:
//  - one asio::io_context, run() on the main thread only (single-threaded);
//  - a server object whose do_accept() posts async_accept (the move-accept overload
//    handing over the new socket) and posts the next accept from the handler;
//  - a `session : std::enable_shared_from_this<session>` per connection that owns
//    its socket and a fixed `char data_[max_length]` buffer (max_length = 1024 as in
//    the example; with 16 x 64-byte messages in flight it never limits), and loops
//    do_read() = socket.async_read_some(buffer) -> do_write(n) = asio::async_write
//    (all n bytes) -> do_read(); the handler's captured shared_ptr keeps it alive,
//    any error just lets it go (closing the socket);
//  - the same template for TCP (asio::ip::tcp, acceptor with its default
//    reuse_address and listen backlog) and Unix sockets (asio::local::stream_protocol,
//    the stale socket file removed first as the local example does);
//  - asio::signal_set for SIGINT/SIGTERM stops the io_context.
// Harness only (not Asio tuning): the same command line and "sockit: listening on
// ADDR" line as c_epoll_echo.c, RLIMIT_NOFILE raised to its hard limit (for the
// 10,000 idle connections), the Unix socket file removed on exit.
// Usage: asio_echo unix:PATH | tcp://HOST:PORT   (port 0 allowed)
#include <sys/resource.h>

#include <asio.hpp>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <string>
#include <utility>

namespace {

template <typename Protocol>
class session : public std::enable_shared_from_this<session<Protocol>> {
 public:
  explicit session(typename Protocol::socket socket) : socket_(std::move(socket)) {}

  void start() { do_read(); }

 private:
  void do_read() {
    auto self(this->shared_from_this());
    socket_.async_read_some(asio::buffer(data_, max_length), [this, self](std::error_code ec, std::size_t length) {
      if (!ec) do_write(length);
    });
  }

  void do_write(std::size_t length) {
    auto self(this->shared_from_this());
    asio::async_write(socket_, asio::buffer(data_, length), [this, self](std::error_code ec, std::size_t /*length*/) {
      if (!ec) do_read();
    });
  }

  typename Protocol::socket socket_;
  enum { max_length = 1024 };
  char data_[max_length];
};

template <typename Protocol>
class server {
 public:
  server(asio::io_context& io_context, const typename Protocol::endpoint& endpoint)
      : acceptor_(io_context, endpoint) {
    do_accept();
  }

  typename Protocol::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }

 private:
  void do_accept() {
    acceptor_.async_accept([this](std::error_code ec, typename Protocol::socket socket) {
      if (!ec) std::make_shared<session<Protocol>>(std::move(socket))->start();
      do_accept();
    });
  }

  typename Protocol::acceptor acceptor_;
};

[[noreturn]] void usage() {
  std::fprintf(stderr, "usage: asio_echo unix:PATH | tcp://HOST:PORT\n");
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) usage();
  const std::string arg = argv[1];
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
  std::string unix_path;
  try {
    asio::io_context io_context;
    asio::signal_set signals(io_context, SIGINT, SIGTERM);
    signals.async_wait([&io_context](std::error_code, int) { io_context.stop(); });

    std::unique_ptr<server<asio::local::stream_protocol>> unix_server;
    std::unique_ptr<server<asio::ip::tcp>> tcp_server;
    std::string shown;
    if (arg.starts_with("unix:")) {
      unix_path = arg.substr(5);
      std::remove(unix_path.c_str());  // a stale file from an earlier run
      unix_server = std::make_unique<server<asio::local::stream_protocol>>(
          io_context, asio::local::stream_protocol::endpoint(unix_path));
      shown = arg;
    } else if (arg.starts_with("tcp://")) {
      const std::string rest = arg.substr(6);
      const auto colon = rest.rfind(':');
      if (colon == std::string::npos) usage();
      const asio::ip::tcp::endpoint endpoint(asio::ip::make_address(rest.substr(0, colon)),
                                             static_cast<unsigned short>(std::atoi(rest.c_str() + colon + 1)));
      tcp_server = std::make_unique<server<asio::ip::tcp>>(io_context, endpoint);
      const auto bound = tcp_server->local_endpoint();
      shown = "tcp://" + bound.address().to_string() + ":" + std::to_string(bound.port());
    } else {
      usage();
    }
    std::fprintf(stderr, "sockit: listening on %s\n", shown.c_str());
    io_context.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "asio_echo: %s\n", e.what());
    if (!unix_path.empty()) std::remove(unix_path.c_str());
    return 1;
  }
  if (!unix_path.empty()) std::remove(unix_path.c_str());
  return 0;
}
