// `sockit probe ADDR...`: is something listening at each address (nc -z)? One line
// per address on stdout, exit status 0 only if every one is listening.
//
// A probe is a real connect that is closed at once: the server sees a connection
// that opens and ends without a byte (a one-shot `sockit listen` takes it as its
// one client). For Unix paths the file is looked at first, so "nothing there",
// "not a socket" and "a socket file nobody serves (stale)" are told apart.
// UDP is refused: it has no handshake, so silence cannot tell a listener from
// nothing, and an answer would need a datagram the service may act on.
#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "address_arg.hpp"
#include "channel.hpp"
#include "client_source.hpp"
#include "commands.hpp"
#include "errors.hpp"
#include "option_checks.hpp"

namespace sockit::cli {
namespace {

struct ProbeArgs {
  std::vector<std::string> addresses;
  double timeout_seconds = 5;
  ClientSourceArgs source;
};

struct Verdict {
  bool listening = false;
  std::string text;
};

// The scheme that matches a Unix socket of `type`, for "listening as unix-dgram:".
const char* unix_scheme(Transport transport) {
  switch (transport) {
    case Transport::unix_dgram: return "unix-dgram:";
    case Transport::unix_seqpacket: return "unix-seqpacket:";
    default: return "unix:";
  }
}

Address with_transport(const Address& address, Transport transport) {
  const std::string name = address.is_abstract() ? "@" + address.path() : address.path();
  return *Address::parse(unix_scheme(transport) + name);
}

// A Unix socket refuses a connect of another type (EPROTOTYPE): find the type
// that is served there, so the line says which scheme to use.
Verdict other_unix_type(const Address& address, Deadline deadline) {
  for (Transport other : {Transport::unix_stream, Transport::unix_seqpacket, Transport::unix_dgram}) {
    if (other == address.transport()) continue;
    const Address retry = with_transport(address, other);
    if (connect_channel(retry, deadline)) {
      return {false, fmt::format("a {} socket is listening here, not {} (use {})",
                                 other == Transport::unix_dgram     ? "datagram"
                                 : other == Transport::unix_seqpacket ? "seqpacket"
                                                                      : "stream",
                                 unix_scheme(address.transport()), retry.to_string())};
    }
  }
  return {false, "a socket of another type (protocol wrong type for socket)"};
}

Verdict verdict_of_connect(const Address& address, const ConnectOptions& options, Deadline deadline,
                           double timeout_seconds) {
  auto channel = connect_channel(address, deadline, options);
  if (channel) {
    if (address.is_datagram()) return {true, "listening (a datagram socket is bound here)"};
    return {true, "listening"};
  }
  const std::error_code ec = channel.error();
  if (ec == std::errc::connection_refused) {
    if (address.is_unix() && !address.is_abstract()) return {false, "stale socket file (no listener)"};
    return {false, "refused (no listener)"};
  }
  if (ec == errc::timed_out) {
    // Unix: a full backlog (someone listens but does not accept); TCP: no answer at all.
    if (address.is_unix()) return {true, "listening, but its backlog is full (it is not accepting)"};
    return {false, fmt::format("no answer within {} s (a firewall dropping it, or a host that is down)",
                               timeout_seconds)};
  }
  if (ec == std::errc::wrong_protocol_type) return other_unix_type(address, deadline);
  return {false, describe(ec)};
}

Verdict probe(const Address& address, const ConnectOptions& options, double timeout_seconds) {
  const auto deadline = Deadline::after(std::chrono::milliseconds(static_cast<long long>(timeout_seconds * 1000)));
  if (address.is_unix() && !address.is_abstract()) {
    struct stat st {};
    if (::lstat(address.path().c_str(), &st) != 0) {
      if (errno == ENOENT) return {false, "no such file"};
      return {false, describe(std::error_code(errno, std::system_category()))};
    }
    if (!S_ISSOCK(st.st_mode)) return {false, "not a socket"};
  }
  return verdict_of_connect(address, options, deadline, timeout_seconds);
}

int run_probe(const ProbeArgs& args) {
  // Every address is checked before any is probed: a typo is a usage error, not a
  // line of output among the others.
  std::vector<Address> addresses;
  std::vector<ConnectOptions> options;
  for (const std::string& text : args.addresses) {
    auto address = parse_address_arg(text);
    if (!address) return kExitUsage;
    if (address->transport() == Transport::udp) {
      return usage_error("probe", text,
                         "UDP cannot be probed: it has no handshake, so silence does not tell a listener from "
                         "nothing (try 'sockit connect' with a request the service answers)");
    }
    auto connect_options = client_connect_options("probe", text, *address, args.source);
    if (!connect_options) return kExitUsage;
    addresses.push_back(std::move(*address));
    options.push_back(std::move(*connect_options));
  }
  bool all_listening = true;
  for (std::size_t i = 0; i < addresses.size(); ++i) {
    const Verdict verdict = probe(addresses[i], options[i], args.timeout_seconds);
    all_listening = all_listening && verdict.listening;
    fmt::print("{}: {}\n", args.addresses[i], verdict.text);
    std::fflush(stdout);
  }
  return all_listening ? kExitOk : kExitFailure;
}

}  // namespace

Command add_probe_command(CLI::App& parent) {
  auto args = std::make_shared<ProbeArgs>();
  CLI::App* app = parent.add_subcommand("probe", "Tell whether something listens at each ADDR (like nc -z)");
  app->add_option("ADDR", args->addresses, "Addresses to probe")->required();
  app->add_option("--timeout", args->timeout_seconds, "Seconds to wait for each address (default 5)")
      ->transform(seconds_in(0.001, 3600));
  add_family_flags(*app, args->source.family, FamilyRole::client);
  add_verbose_flag(*app);
  app->footer(std::string("Connects to each ADDR in turn, closes at once, and prints one line per address on\n"
                          "stdout:\n"
                          "  tcp://127.0.0.1:8080: listening\n"
                          "  tcp://127.0.0.1:8081: refused (no listener)\n"
                          "  unix:/tmp/app.sock: stale socket file (no listener)\n"
                          "  unix:/tmp/notes.txt: not a socket\n"
                          "  unix:/tmp/gone.sock: no such file\n"
                          "  unix:/tmp/d.sock: a datagram socket is listening here, not unix: (use unix-dgram:/tmp/d.sock)\n"
                          "unix-dgram: addresses are probed with connect(2) too: it succeeds when a socket is\n"
                          "bound there. udp:// cannot be probed (no handshake: silence means nothing) and is a\n"
                          "usage error. The server sees each probe as a connection that closes at once.\n"
                          "Exit status: 0 if every address is listening, 1 if any is not, 2 on a usage error\n"
                          "(nothing is probed then).\n"
                          "\n"
                          "Examples:\n"
                          "  sockit probe tcp://127.0.0.1:8080 unix:/run/app.sock\n"
                          "  sockit probe --timeout 0.5 tcp://db.internal:5432 && echo up\n"
                          "  sockit probe -6 tcp://localhost:8080\n"
                          "  until sockit probe unix:/tmp/app.sock >/dev/null; do sleep 0.1; done\n"
                          "\n") +
              kAddressHelp);
  return {app, [args] { return run_probe(*args); }};
}

}  // namespace sockit::cli
