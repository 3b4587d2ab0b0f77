#include "support/connected.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>

#include "support/temp_dir.hpp"

namespace sockit::test {

ConnectedPair connected_pair(const std::string& listen_address) {
  using namespace std::chrono_literals;
  auto address = Address::parse(listen_address);
  if (!address) throw std::runtime_error("bad address " + listen_address + ": " + address.error().message());
  auto listener = listen(*address);
  if (!listener) throw std::runtime_error("listen " + listen_address + ": " + listener.error().message());
  auto bound = listener->local_address();
  if (!bound) throw std::runtime_error("local_address: " + bound.error().message());
  auto client = connect(*bound, 5s);
  if (!client) throw std::runtime_error("connect " + bound->to_string() + ": " + client.error().message());
  auto server = listener->accept(5s);
  if (!server) throw std::runtime_error("accept: " + server.error().message());
  return {std::move(*client), std::move(*server)};
}

std::string listen_address_for(const std::string& kind, const std::string& temp_path) {
  if (kind == "unix") return "unix:" + temp_path;
  if (kind == "abstract") return "unix:@" + unique_abstract_name();
  if (kind == "tcp4") return "tcp://127.0.0.1:0";
  if (kind == "tcp6") return "tcp://[::1]:0";
  throw std::invalid_argument("unknown transport kind " + kind);
}

}  // namespace sockit::test
