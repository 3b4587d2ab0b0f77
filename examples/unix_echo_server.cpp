// unix_echo_server: listens on a Unix socket, takes one client's message, replies, exits.
//
//   unix_echo_server [ADDRESS]     default unix:/tmp/sockit-echo.sock; unix:@NAME is abstract
//
// No unlink() before bind: that would also delete a live server's socket. listen()
// probes an existing path instead (a stale file is replaced, a live server is an
// error) and the Listener removes its own file when it closes, on every exit path.
// Protocol: the client sends its message and half-closes, so the message is the
// whole stream. One recv() is not one message; we read to end of stream, bounded in
// size and by one deadline for the whole exchange.
#include <array>
#include <chrono>
#include <iostream>
#include <string>

#include "sockit/sockit.hpp"

using namespace std::chrono_literals;

namespace {

constexpr std::size_t kMaxMessage = 4096;

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
  std::cerr << "unix_echo_server: " << what << ": " << ec.message() << '\n';
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string text = argc > 1 ? argv[1] : "unix:/tmp/sockit-echo.sock";
  auto address = sockit::Address::parse(text);
  if (!address) return report("bad address '" + text + "'", address.error(), 2);
  auto listener = sockit::listen(*address);
  if (!listener) return report("cannot listen on " + text, listener.error());
  std::cout << "listening on " << address->to_string() << std::endl;

  // A connection that closes without a word (a health check, or another server's
  // liveness probe of our path) is not our client: wait for the next one.
  const sockit::Deadline give_up = sockit::Deadline::after(60s);
  for (;;) {
    auto client = listener->accept(give_up);
    if (!client) return report("accept", client.error());
    const sockit::Deadline deadline = sockit::Deadline::after(10s);  // for the whole exchange
    auto message = read_to_end(*client, deadline, kMaxMessage);
    if (!message) return report("receive", message.error());
    if (message->empty()) continue;
    std::cout << "received: " << *message << std::endl;
    const std::string reply =
        "hello from the server (" + std::to_string(message->size()) + " bytes received)";
    if (auto sent = client->send_all(reply, deadline); !sent) return report("send", sent.error());
    return 0;  // closes the client (it sees end of stream), then the listener and its file
  }
}
