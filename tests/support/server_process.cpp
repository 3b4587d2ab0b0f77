#include "support/server_process.hpp"

#include <memory>

namespace sockit::test {
namespace {

// In the child: the server created and started, or why not.
std::expected<ChildService, std::string> start_server(const Address& address, net::ServerOptions options,
                                                      const net::Server::ConnectionHandler& handler) {
  auto created = net::Server::create(address, std::move(options), handler);
  if (!created) return std::unexpected("create: " + created.error().message());
  std::shared_ptr<net::Server> server = std::move(*created);
  if (auto started = server->start(); !started) return std::unexpected("start: " + started.error().message());
  return ChildService{
      .address = server->local_address(),
      .stats = [server] { return bytes_of_stats(server->stats()); },
      .stop = [server] { server->shutdown(std::chrono::seconds(1)); },
  };
}

}  // namespace

ServerProcess::ServerProcess(const Address& address, net::ServerOptions options,
                             net::Server::ConnectionHandler handler, rlim_t descriptor_limit)
    : ServiceProcessOf(
          [&] { return start_server(address, std::move(options), handler); }, descriptor_limit) {}

void echo_messages(net::Connection& c) {
  c.on_message([](net::Connection& self, std::span<const std::byte> m) { (void)self.send(m); });
}

}  // namespace sockit::test
