// `sockit connect ADDR`: a client that relays stdin to the socket and the socket
// to stdout (nc without the flags), for every transport sockit knows.
#include <fmt/core.h>

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
  bool expect_replies = false;
  CLI::Option* expect_replies_option = nullptr;  // datagrams only
};

std::chrono::milliseconds to_ms(double seconds) {
  return std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
}

int run_connect(const ConnectArgs& args) {
  auto address = parse_address_arg(args.address);
  if (!address) return kExitUsage;
  if (!address->is_datagram() && args.expect_replies_option->count() > 0) {
    return usage_error("connect", args.address,
                       "--expect-replies applies to datagrams (udp://, unix-dgram:), not to connections");
  }
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
  DatagramCounts counts;
  options.counts = &counts;
  auto end = pump(*channel, stdin_state, options);
  if (!end) {
    print_error("connect", args.address, end.error().detail, end.error().ec);
    return kExitFailure;
  }
  if (*end == PumpEnd::stdout_closed) note("stdout closed: stopping");
  if (address->is_datagram() && *end == PumpEnd::finished) {
    // Datagrams have no end of stream: a lost reply is only visible as a count.
    note("{} datagram{} sent, {} received", counts.sent, counts.sent == 1 ? "" : "s", counts.received);
    if (args.expect_replies && counts.received < counts.sent) {
      fmt::print(stderr, "sockit: connect {}: {} of {} replies missing (none for --wait {} s)\n", args.address,
                 counts.sent - counts.received, counts.sent, args.wait_seconds);
      std::fflush(stderr);
      return kExitFailure;
    }
  }
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
  args->expect_replies_option =
      app->add_flag("--expect-replies", args->expect_replies,
                    "Datagrams: every datagram sent expects one back (an echo, a request/reply\n"
                    "service); exit 1 if fewer came back before --wait ran out");
  add_verbose_flag(*app);
  app->footer(std::string("Stdin goes to the socket, the socket to stdout. At the end of stdin the sending\n"
                          "side is shut down (the server sees end of stream) and replies are still printed\n"
                          "until the server closes; then the exit status is 0. For udp:// and unix-dgram:\n"
                          "each read of stdin is sent as one datagram, and replies are printed until none\n"
                          "came for --wait seconds; datagrams can be lost without a word, so -v counts\n"
                          "them (sent, received) and --expect-replies makes a missing reply exit 1.\n"
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
