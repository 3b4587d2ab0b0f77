// `sockit connect ADDR`: a client that relays stdin to the socket and the socket
// to stdout (nc without the flags), for every transport sockit knows.
#include <chrono>
#include <memory>
#include <string>

#include "address_arg.hpp"
#include "channel.hpp"
#include "commands.hpp"
#include "errors.hpp"
#include "log.hpp"
#include "option_checks.hpp"
#include "pump.hpp"

namespace sockit::cli {
namespace {

struct ConnectArgs {
  std::string address;
  double timeout_seconds = 10;
  double wait_seconds = 1;
  CLI::Option* wait_option = nullptr;  // datagrams only: refused for connections
};

std::chrono::milliseconds to_ms(double seconds) {
  return std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
}

int run_connect(const ConnectArgs& args) {
  auto address = parse_address_arg(args.address);
  if (!address) return kExitUsage;
  if (!address->is_datagram() && args.wait_option->count() > 0) {
    return usage_error("connect", args.address,
                       "--wait applies to datagrams (udp://, unix-dgram:), not to connections (a connection "
                       "ends when the server closes it)");
  }

  auto channel = connect_channel(*address, Deadline::after(to_ms(args.timeout_seconds)));
  if (!channel) {
    print_error("connect", args.address, channel.error());
    return kExitFailure;
  }
  note("connected to {}", address->to_string());

  StdinState stdin_state;
  PumpOptions options;
  options.datagram_wait = to_ms(args.wait_seconds);
  auto end = pump(*channel, stdin_state, options);
  if (!end) {
    print_error("connect", args.address, end.error().detail, end.error().ec);
    return kExitFailure;
  }
  if (*end == PumpEnd::stdout_closed) note("stdout closed: stopping");
  return kExitOk;
}

}  // namespace

Command add_connect_command(CLI::App& parent) {
  auto args = std::make_shared<ConnectArgs>();
  CLI::App* app = parent.add_subcommand("connect", "Connect to ADDR and relay stdin/stdout (like nc)");
  app->add_option("ADDR", args->address, "Address to connect to")->required();
  app->add_option("--timeout", args->timeout_seconds, "Seconds to wait for the connection (default 10)")
      ->transform(seconds_in(0.001, 86400));
  args->wait_option = app->add_option("--wait", args->wait_seconds,
                  "Datagrams: seconds without a reply, after stdin ends, before exiting (default 1)")
      ->transform(seconds_in(0, 86400));
  add_verbose_flag(*app);
  app->footer(std::string("Stdin goes to the socket, the socket to stdout. At the end of stdin the sending\n"
                          "side is shut down (the server sees end of stream) and replies are still printed\n"
                          "until the server closes; then the exit status is 0. For udp:// and unix-dgram:\n"
                          "each read of stdin is sent as one datagram.\n"
                          "\n"
                          "Examples:\n"
                          "  echo hello | sockit connect unix:/tmp/echo.sock\n"
                          "  sockit connect tcp://127.0.0.1:8080 < request.txt > reply.txt\n"
                          "  printf 'ping' | sockit connect udp://127.0.0.1:9000 --wait 0.5\n"
                          "  sockit connect unix:@my-service --timeout 2\n"
                          "\n") +
              kAddressHelp);
  return {app, [args] { return run_connect(*args); }};
}

}  // namespace sockit::cli
