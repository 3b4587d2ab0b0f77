// `sockit connect ADDR`: a client that relays stdin to the socket and the socket
// to stdout (nc without the flags), for every transport sockit knows, or gives
// the connection to a command (--exec).
#include <fmt/core.h>

#include <chrono>
#include <memory>
#include <string>

#include "address_arg.hpp"
#include "channel.hpp"
#include "client_source.hpp"
#include "commands.hpp"
#include "errors.hpp"
#include "exec_session.hpp"
#include "log.hpp"
#include "option_checks.hpp"
#include "pump.hpp"
#include "relay_options.hpp"
#include "signals.hpp"

namespace sockit::cli {
namespace {

struct ConnectArgs {
  std::string address;
  double timeout_seconds = 10;
  double wait_seconds = 1;
  RelayArgs relay;
  ClientSourceArgs source;
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
  if (int status = check_relay_options(args.relay, "connect", args.address, false); status != kExitOk) {
    return status;
  }
  if (!address->is_datagram() && args.expect_replies_option->count() > 0) {
    return usage_error("connect", args.address,
                       "--expect-replies applies to datagrams (udp://, unix-dgram:), not to connections");
  }
  if (!address->is_datagram() && args.wait_option->count() > 0) {
    return usage_error("connect", args.address,
                       "--wait applies to datagrams (udp://, unix-dgram:), not to connections (a connection "
                       "ends when the server closes it)");
  }

  auto connect_options = client_connect_options("connect", args.address, *address, args.source);
  if (!connect_options) return kExitUsage;
  auto channel = connect_channel(*address, Deadline::after(to_ms(args.timeout_seconds)), *connect_options);
  if (!channel) {
    print_error("connect", args.address, channel.error());
    return kExitFailure;
  }
  note("connected to {}", address->to_string());

  if (args.relay.has_exec()) {
    // A signal must reach sockit as a readable fd, so that the child is ended too.
    auto signals = open_stop_signals();
    if (!signals) {
      print_error("connect", args.address, "signalfd", signals.error());
      return kExitFailure;
    }
    return run_exec_once(std::move(*channel), args.relay.exec, args.relay.quit_after(), signals->get(),
                         "connect", args.address);
  }
  StdinState stdin_state;
  PumpOptions options;
  options.session = session_options(args.relay);
  options.session.datagram_wait = to_ms(args.wait_seconds);
  DatagramCounts counts;
  options.session.counts = &counts;
  auto end = pump(std::move(*channel), stdin_state, options);
  if (!end) {
    print_error("connect", args.address, end.error().detail, end.error().ec);
    return kExitFailure;
  }
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
  return finish_relay("connect", args.address, *end, options.session);
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
  add_relay_options(*app, args->relay);
  add_family_flags(*app, args->source.family, FamilyRole::client);
  add_bind_option(*app, args->source);
  add_verbose_flag(*app);
  app->footer(std::string("Stdin goes to the socket, the socket to stdout. At the end of stdin the sending\n"
                          "side is shut down (the server sees end of stream) and replies are still printed\n"
                          "until the server closes; then the exit status is 0. For udp:// and unix-dgram:\n"
                          "each read of stdin is sent as one datagram, and replies are printed until none\n"
                          "came for --wait seconds; datagrams can be lost without a word, so -v counts\n"
                          "them (sent, received) and --expect-replies makes a missing reply exit 1.\n"
                          "--exec CMD runs /bin/sh -c CMD with the connection as its stdin and stdout\n"
                          "(the exit status is 0 if CMD exits 0); --hex traces the bytes on stderr;\n"
                          "--idle-timeout ends a silent connection (exit 1); --quit-after stops that\n"
                          "long after stdin (or CMD) ends, even if the server has not closed (exit 0).\n"
                          "\n"
                          "Examples:\n"
                          "  echo hello | sockit connect unix:/tmp/echo.sock\n"
                          "  sockit connect tcp://127.0.0.1:8080 < request.txt > reply.txt\n"
                          "  printf 'ping' | sockit connect udp://127.0.0.1:9000 --wait 0.5\n"
                          "  sockit connect unix:@my-service --timeout 2\n"
                          "  sockit connect tcp://127.0.0.1:8080 --exec './client.sh'\n"
                          "  printf 'GET / HTTP/1.0\\r\\n\\r\\n' | sockit connect --hex --quit-after 2 tcp://127.0.0.1:80\n"
                          "  sockit connect --idle-timeout 5 unix:/tmp/app.sock < request.bin\n"
                          "  sockit connect -6 tcp://localhost:8080          # only its IPv6 addresses\n"
                          "  sockit connect tcp://127.0.0.1:8080 --bind 127.0.0.2   # from this source\n"
                          "\n") +
              kAddressHelp);
  return {app, [args] { return run_connect(*args); }};
}

}  // namespace sockit::cli
