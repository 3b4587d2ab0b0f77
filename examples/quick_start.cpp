// The README's ten-line example, built by CMake so it cannot drift from the API.
// Usage: quick_start [ADDRESS]   (default: a socket under /tmp)
#include <sockit/sockit.hpp>

#include <array>
#include <cstdio>
#include <string>

using namespace std::chrono_literals;

int main(int argc, char** argv) {
  const std::string text = argc > 1 ? argv[1] : "unix:/tmp/sockit-quick-start/api.sock";
  auto address = sockit::Address::parse(text);
  if (!address) return std::fprintf(stderr, "%s: %s\n", text.c_str(), address.error().message().c_str()), 2;

  // --- the README example -------------------------------------------------------
  auto listener = sockit::listen(*address, {.unix_file = {.create_parent_directory = true}});
  if (!listener) return std::fprintf(stderr, "listen: %s\n", listener.error().message().c_str()), 1;
  auto client = sockit::connect(*listener->local_address(), 2s);  // never blocks longer than 2 s
  if (!client || !client->send_all("hello", 1s)) return std::fprintf(stderr, "connect/send failed\n"), 1;
  auto conn = listener->accept(1s);
  std::array<std::byte, 5> buf{};
  if (auto r = conn->recv_exact(buf, 1s); !r) return std::fprintf(stderr, "recv: %s\n", r.error().message().c_str()), 1;
  // ------------------------------------------------------------------------------

  std::printf("received \"%.*s\" over %s\n", 5, reinterpret_cast<const char*>(buf.data()),
              listener->local_address()->to_string().c_str());
  return 0;
}
