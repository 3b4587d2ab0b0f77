// `sockit connect ADDR`: a client that relays stdin to the socket and the socket
// to stdout (nc without the flags), for every transport sockit knows, or gives
// the connection to a command (--exec).
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
  auto end = pump(std::move(*channel), stdin_state, options);
  if (!end) {
    print_error("connect", args.address, end.error().detail, end.error().ec);
    return kExitFailure;
  }
  return finish_relay("connect", args.address, *end, options.session);
}

}  // namespace

Command add_connect_command(CLI::App& parent) {
  auto args = std::make_shared<ConnectArgs>();
  CLI::App* app = parent.add_subcommand("connect", "Connect to ADDR and relay stdin/stdout (like nc)");
  app->add_option("ADDR", args->address, "Address to connect to")->required();
  app->add_option("--timeout", args->timeout_seconds, "Seconds to wait for the connection (default 10)")
      ->check(CLI::Range(0.001, 86400.0));
  app->add_option("--wait", args->wait_seconds,
                  "Datagrams: seconds without a reply, after stdin ends, before exiting (default 1)")
      ->check(CLI::Range(0.0, 86400.0));
  add_relay_options(*app, args->relay);
  add_family_flags(*app, args->source);
  add_bind_option(*app, args->source);
  add_verbose_flag(*app);
  app->footer(std::string("Stdin goes to the socket, the socket to stdout. At the end of stdin the sending\n"
                          "side is shut down (the server sees end of stream) and replies are still printed\n"
                          "until the server closes; then the exit status is 0. For udp:// and unix-dgram:\n"
                          "each read of stdin is sent as one datagram.\n"
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
