// net::Server and a blocking client in one program: the server echoes every line
// it receives (line framing on the event loop, `--backend` chosen at run time),
// the client sends three lines and reads each echo back with a deadline, then the
// server shuts down and prints what it counted.
// Usage: framed_echo_server [ADDRESS [BACKEND]]   (default: an abstract Unix name, auto)
#include <sockit/net/server.hpp>
#include <sockit/sockit.hpp>
#include <unistd.h>

#include <cstdio>
#include <string>

using namespace std::chrono_literals;

namespace {

// Reads one line (up to 4 KiB) from a blocking stream socket, by the deadline.
sockit::Result<std::string> read_line(sockit::StreamSocket& socket, sockit::Deadline deadline) {
  std::string line;
  std::byte byte{};
  while (line.size() < 4096) {
    auto n = socket.recv_some(std::span(&byte, 1), deadline);
    if (!n) return sockit::fail(n.error());
    if (*n == 0) return sockit::fail(sockit::errc::unexpected_end_of_stream);
    if (static_cast<char>(byte) == '\n') return line;
    line += static_cast<char>(byte);
  }
  return sockit::fail(sockit::errc::frame_too_large);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string text = argc > 1 ? argv[1] : "unix:@sockit-example-" + std::to_string(::getpid());
  auto address = sockit::Address::parse(text);
  if (!address) return std::fprintf(stderr, "%s: %s\n", text.c_str(), address.error().message().c_str()), 2;

  sockit::net::ServerOptions options;
  options.backend = argc > 2 ? argv[2] : "auto";
  options.connection.framing = sockit::net::Framing::line();
  // Runs on the server's worker thread for each connection: echo every message.
  auto server = sockit::net::Server::create(*address, options, [](sockit::net::Connection& connection) {
    connection.on_message([](sockit::net::Connection& self, std::span<const std::byte> line) {
      (void)self.send(line);  // framed again (a newline added); a failure closes the connection
    });
  });
  if (!server) return std::fprintf(stderr, "server: %s\n", server.error().message().c_str()), 1;
  if (auto started = (*server)->start(); !started) {
    return std::fprintf(stderr, "start: %s\n", started.error().message().c_str()), 1;
  }
  std::printf("serving on %s with %s\n", (*server)->local_address().to_string().c_str(),
              (*server)->backend().c_str());

  auto client = sockit::connect((*server)->local_address(), 2s);
  if (!client) return std::fprintf(stderr, "connect: %s\n", client.error().message().c_str()), 1;
  for (const char* message : {"one", "two", "three"}) {
    if (auto sent = client->send_all(std::string(message) + "\n", 1s); !sent) {
      return std::fprintf(stderr, "send: %s\n", sent.error().message().c_str()), 1;
    }
    auto echo = read_line(*client, 1s);
    if (!echo) return std::fprintf(stderr, "echo: %s\n", echo.error().message().c_str()), 1;
    std::printf("echoed: %s\n", echo->c_str());
  }
  client->close();
  (*server)->shutdown(1s);
  const sockit::net::ServerStats stats = (*server)->stats();
  std::printf("server counted %llu connection(s), %llu message(s) in, %llu out\n",
              static_cast<unsigned long long>(stats.accepted), static_cast<unsigned long long>(stats.messages_in),
              static_cast<unsigned long long>(stats.messages_out));
  return 0;
}
