// `sockit recv-fd ADDR`: listens on a Unix address, takes the descriptors one
// sender passes (`sockit send-fd`, or any program using SCM_RIGHTS), says what each
// one is, and with --cat copies each one's content to stdout.
#include <fmt/core.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "address_arg.hpp"
#include "channel.hpp"
#include "commands.hpp"
#include "errors.hpp"
#include "fd_description.hpp"
#include "fd_passing.hpp"
#include "log.hpp"
#include "signals.hpp"
#include "stdio.hpp"
#include "unix_file_options.hpp"

namespace sockit::cli {
namespace {

struct RecvFdArgs {
  std::string address;
  bool cat = false;
  UnixFileOptions unix_file;
  UnixFileOptionSet unix_file_options;
};

// What came in: how many descriptors, and whether all went well.
struct Received {
  std::size_t descriptors = 0;
  bool failed = false;
  bool stopped = false;  // SIGINT/SIGTERM before the sender was done
};

// True when `fd` is readable, false on a stop signal.
Result<bool> wait_readable(int fd, int signal_fd) {
  auto woke = wait_for_stop_signal(signal_fd, std::chrono::milliseconds(0), [] {}, fd);
  if (!woke) return fail(woke.error());
  return woke->extra_ready;
}

// Copies what is left to read of `fd` to stdout (from the open file's current
// offset, which the sender shares: that is what passing an open file means).
Status copy_to_stdout(int fd) {
  std::array<std::byte, 64 * 1024> buffer{};
  for (;;) {
    auto n = read_some(fd, buffer);
    if (!n) return fail(n.error());
    if (*n == 0) return {};
    if (auto s = write_all(kStdout, std::span(buffer).first(*n)); !s) return s;
  }
}

// Without --cat the descriptions are the output (stdout); with --cat stdout is
// only the files' bytes, so the descriptions go to stderr.
void report(const std::vector<Fd>& fds, const RecvFdArgs& args, Received& received) {
  for (const Fd& fd : fds) {
    ++received.descriptors;
    const std::string line = describe_descriptor(fd.get());
    if (!args.cat) {
      fmt::print("{}\n", line);
      std::fflush(stdout);
      continue;
    }
    print_note("received " + line);
    if (auto copied = copy_to_stdout(fd.get()); !copied) {
      print_error("recv-fd", args.address, fmt::format("--cat fd {}", fd.get()), copied.error());
      received.failed = true;
    }
  }
}

// Takes messages on `socket` until the sender closes (or, for a datagram socket,
// after the first message).
Result<Received> receive(const Socket& socket, bool one_message, const RecvFdArgs& args, int signal_fd) {
  Received received;
  std::array<std::byte, 4096> data{};
  for (;;) {
    auto readable = wait_readable(socket.native_handle(), signal_fd);
    if (!readable) return fail(readable.error());
    if (!*readable) {
      received.stopped = true;
      return received;
    }
    auto message = recv_fds(socket, data, kMaxFdsPerMessage, try_once());
    if (!message) {
      if (would_block(message.error())) continue;
      return fail(message.error());
    }
    if (message->size == 0 && message->fds.empty() && !one_message) return received;  // end of stream
    report(message->fds, args, received);
    if (one_message) return received;
  }
}

Result<Received> receive_on(const Address& address, const RecvFdArgs& args, int signal_fd) {
  if (address.is_datagram()) {
    auto socket = DatagramSocket::bind(address, {.unix_file = args.unix_file});
    if (!socket) return fail(socket.error());
    if (auto local = socket->local_address(); local) announce_listening(*local);
    return receive(*socket, /*one_message=*/true, args, signal_fd);
  }
  auto listener = listen(address, {.unix_file = args.unix_file});
  if (!listener) return fail(listener.error());
  if (auto local = listener->local_address(); local) announce_listening(*local);
  for (;;) {
    auto readable = wait_readable(listener->native_handle(), signal_fd);
    if (!readable) return fail(readable.error());
    if (!*readable) return Received{.stopped = true};
    auto channel = accept_channel(*listener, try_once(), false);
    if (!channel) {
      if (would_block(channel.error())) continue;  // the sender went away before accept
      return fail(channel.error());
    }
    note("connection from {}", channel->peer_address() ? channel->peer_address()->to_string() : "?");
    return receive(channel->socket(), /*one_message=*/false, args, signal_fd);
  }
}

int run_recv_fd(const RecvFdArgs& args) {
  auto address = parse_address_arg(args.address);
  if (!address) return kExitUsage;
  if (!check_fd_passing_address("recv-fd", args.address, *address)) return kExitUsage;
  if (auto why = args.unix_file_options.misuse(*address); !why.empty()) {
    return usage_error("recv-fd", args.address, why);
  }
  auto signals = open_stop_signals();
  if (!signals) {
    print_error("recv-fd", args.address, "signalfd", signals.error());
    return kExitFailure;
  }
  auto received = receive_on(*address, args, signals->get());
  if (!received) {
    print_error("recv-fd", args.address, received.error());
    return kExitFailure;
  }
  if (received->stopped) return kExitOk;
  if (received->descriptors == 0) {
    fmt::print(stderr, "sockit: recv-fd {}: the sender passed no descriptors\n", args.address);
    std::fflush(stderr);
    return kExitFailure;
  }
  return received->failed ? kExitFailure : kExitOk;
}

}  // namespace

Command add_recv_fd_command(CLI::App& parent) {
  auto args = std::make_shared<RecvFdArgs>();
  CLI::App* app = parent.add_subcommand("recv-fd", "Receive open files over a Unix socket and say what they are");
  app->add_option("ADDR", args->address, "Unix address to listen on")->required();
  app->add_flag("--cat", args->cat, "Copy each file's content to stdout (descriptions go to stderr)");
  args->unix_file_options = add_unix_file_options(*app, args->unix_file);
  add_verbose_flag(*app);
  app->footer(std::string("Listens on ADDR (a Unix address: unix:, unix-seqpacket:, unix-dgram:, path or\n"
                          "@abstract; anything else is a usage error, exit 2), prints 'sockit: listening on\n"
                          "ADDR' on stderr, accepts one sender and takes every descriptor it passes until\n"
                          "it closes (unix-dgram: the first datagram). For each one a line on stdout:\n"
                          "  fd 5: /tmp/report.txt (regular file, 1234 bytes, mode 0640, opened read-only)\n"
                          "With --cat that line goes to stderr and the file's content to stdout, read from\n"
                          "the offset the sender left (shared: it is the same open file). --cat reads a\n"
                          "pipe until its writer closes it.\n"
                          "Exit status: 0 once the sender has closed after passing at least one\n"
                          "descriptor (or on SIGINT/SIGTERM), 1 if it passed none or --cat failed.\n"
                          "\n") +
              kUnixFileHelp +
              std::string("\n"
                          "Examples:\n"
                          "  sockit recv-fd unix:/tmp/fds.sock\n"
                          "  sockit recv-fd unix:/tmp/fds.sock --cat > copy.txt\n"
                          "  sockit recv-fd unix:/tmp/fds.sock --mode 660 --group adm   # any member may send\n"
                          "\n") +
              kAddressHelp);
  return {app, [args] { return run_recv_fd(*args); }};
}

}  // namespace sockit::cli
