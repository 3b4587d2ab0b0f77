// `sockit listen ADDR [--keep]`: a server for one peer at a time that relays the
// connection with stdin/stdout (nc -l). Datagram addresses print what arrives and
// answer the last sender.
#include <poll.h>

#include <cerrno>
#include <memory>
#include <string>

#include "address_arg.hpp"
#include "channel.hpp"
#include "commands.hpp"
#include "datagram_relay.hpp"
#include "errors.hpp"
#include "log.hpp"
#include "pump.hpp"
#include "signals.hpp"

namespace sockit::cli {
namespace {

struct ListenArgs {
  std::string address;
  bool keep = false;
  CLI::Option* keep_option = nullptr;  // connections only: refused for datagrams
};

// Waits in poll(2) for a pending connection (true) or a stop signal (false).
Result<bool> wait_for_connection(const Listener& listener, int signal_fd) {
  for (;;) {
    pollfd fds[2] = {{listener.native_handle(), POLLIN, 0}, {signal_fd, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return fail(std::error_code(errno, std::system_category()));
    }
    if (fds[1].revents != 0) return false;
    if (fds[0].revents != 0) return true;
  }
}

int serve_datagrams(const Address& address, const std::string& text, int signal_fd) {
  auto socket = DatagramSocket::bind(address);
  if (!socket) {
    print_error("listen", text, socket.error());
    return kExitFailure;
  }
  if (auto local = socket->local_address(); local) announce_listening(*local);
  auto end = relay_datagrams(*socket, signal_fd);
  if (!end) {
    print_error("listen", text, end.error().detail, end.error().ec);
    return kExitFailure;
  }
  return kExitOk;
}

// Returns kExitOk to go on with the next connection (--keep), anything else to stop.
int relay_one(Listener& listener, const ListenArgs& args, StdinState& stdin_state, int signal_fd,
              bool& stop) {
  auto channel = accept_channel(listener, try_once(), false);
  if (!channel) {
    if (would_block(channel.error())) return kExitOk;  // the connection went away before accept
    print_error("listen", args.address, "accept", channel.error());
    return kExitFailure;
  }
  if (auto peer = channel->peer_address(); peer) note("connection from {}", peer->to_string());

  auto end = pump(*channel, stdin_state, {.signal_fd = signal_fd});
  if (!end) {
    print_error("listen", args.address, end.error().detail, end.error().ec);
    return kExitFailure;
  }
  stop = *end != PumpEnd::finished || !args.keep;
  note("connection closed");
  return kExitOk;
}

int run_listen(const ListenArgs& args) {
  auto address = parse_address_arg(args.address);
  if (!address) return kExitUsage;
  auto signals = open_stop_signals();
  if (!signals) {
    print_error("listen", args.address, "signalfd", signals.error());
    return kExitFailure;
  }
  if (address->is_datagram() && args.keep_option->count() > 0) {
    return usage_error("listen", args.address,
                       "--keep applies to connections (tcp://, unix:, unix-seqpacket:), not to datagrams "
                       "(a datagram listener serves every sender until interrupted)");
  }
  if (address->is_datagram()) return serve_datagrams(*address, args.address, signals->get());

  auto listener = listen(*address);
  if (!listener) {
    print_error("listen", args.address, listener.error());
    return kExitFailure;
  }
  if (auto local = listener->local_address(); local) announce_listening(*local);

  StdinState stdin_state;
  for (bool stop = false; !stop;) {
    auto ready = wait_for_connection(*listener, signals->get());
    if (!ready) {
      print_error("listen", args.address, "poll", ready.error());
      return kExitFailure;
    }
    if (!*ready) return kExitOk;  // SIGINT/SIGTERM
    // With --keep a failed connection is reported and the next one is served.
    if (int status = relay_one(*listener, args, stdin_state, signals->get(), stop);
        status != kExitOk && !args.keep) {
      return status;
    }
  }
  return kExitOk;
}

}  // namespace

Command add_listen_command(CLI::App& parent) {
  auto args = std::make_shared<ListenArgs>();
  CLI::App* app =
      parent.add_subcommand("listen", "Accept a connection on ADDR and relay stdin/stdout (like nc -l)");
  app->add_option("ADDR", args->address, "Address to listen on")->required();
  args->keep_option = app->add_flag("-k,--keep", args->keep, "After a connection ends, accept the next one (one at a time)");
  add_verbose_flag(*app);
  app->footer(
      std::string("Prints 'sockit: listening on ADDR' on stderr once bound (with the real port for\n"
                  "port 0). One connection is relayed: the peer's bytes to stdout, stdin to the peer.\n"
                  "At the end of stdin the sending side is shut down; when both sides are done the\n"
                  "command exits 0 (with --keep it waits for the next connection instead).\n"
                  "For udp:// and unix-dgram: every datagram received is written to stdout and\n"
                  "stdin is sent to the last sender; it runs until interrupted.\n"
                  "SIGINT/SIGTERM stop it cleanly (exit 0) and remove the Unix socket file.\n"
                  "\n"
                  "Examples:\n"
                  "  sockit listen unix:/tmp/demo.sock > received.bin\n"
                  "  echo 'hello, client' | sockit listen tcp://127.0.0.1:0\n"
                  "  sockit listen --keep unix:@my-service\n"
                  "  sockit listen udp://127.0.0.1:9000\n"
                  "\n") +
      kAddressHelp);
  return {app, [args] { return run_listen(*args); }};
}

}  // namespace sockit::cli
