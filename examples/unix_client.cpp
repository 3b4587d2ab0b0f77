// unix_client: connects to unix_echo_server, sends a greeting, prints the reply.
//
//   unix_client [ADDRESS [MESSAGE]]   default unix:/tmp/sockit-echo.sock, "hello from the client"
//
// Every step has a deadline, so a server that accepts and then says nothing costs
// us ten seconds, not forever. A missing server is an error value whose message
// says why ("No such file or directory", "Connection refused"), not a crash.
// The greeting ends with shutdown(write): the server reads to end of stream, and we
// still receive on the same socket. send_all loops over partial sends and uses
// MSG_NOSIGNAL, so a server that vanished is EPIPE here, not a SIGPIPE death.
#include <array>
#include <chrono>
#include <iostream>
#include <string>

#include "sockit/sockit.hpp"

using namespace std::chrono_literals;

namespace {

constexpr std::size_t kMaxReply = 4096;

// Everything up to the peer's end of stream; more than `limit` bytes is an error.
sockit::Result<std::string> read_to_end(sockit::StreamSocket& socket, sockit::Deadline deadline,
                                        std::size_t limit) {
  std::string text;
  std::array<std::byte, 1024> chunk{};
  for (;;) {
    auto n = socket.recv_some(chunk, deadline);
    if (!n) return sockit::fail(n.error());
    if (*n == 0) return text;
    if (text.size() + *n > limit) return sockit::fail(std::make_error_code(std::errc::message_size));
    text.append(reinterpret_cast<const char*>(chunk.data()), *n);
  }
}

int report(const std::string& what, std::error_code ec, int code = 1) {
  std::cerr << "unix_client: " << what << ": " << ec.message() << '\n';
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string text = argc > 1 ? argv[1] : "unix:/tmp/sockit-echo.sock";
  const std::string greeting = argc > 2 ? argv[2] : "hello from the client";
  auto address = sockit::Address::parse(text);
  if (!address) return report("bad address '" + text + "'", address.error(), 2);

  auto socket = sockit::connect(*address, 5s);
  if (!socket) return report("cannot connect to " + text, socket.error());

  const sockit::Deadline deadline = sockit::Deadline::after(10s);  // for the whole exchange
  if (auto sent = socket->send_all(greeting, deadline); !sent) return report("send", sent.error());
  if (auto done = socket->shutdown(sockit::ShutdownHow::write); !done)
    return report("shutdown", done.error());
  auto reply = read_to_end(*socket, deadline, kMaxReply);
  if (!reply) return report("receive", reply.error());
  std::cout << "reply: " << *reply << std::endl;
  return 0;
}
