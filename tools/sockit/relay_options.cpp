#include "relay_options.hpp"

#include <fmt/core.h>

#include <cmath>
#include <cstdio>

#include "errors.hpp"
#include "option_checks.hpp"
#include "log.hpp"

namespace sockit::cli {

std::optional<std::chrono::milliseconds> RelayArgs::idle_timeout() const {
  if (idle_timeout_s <= 0) return std::nullopt;
  return seconds_to_ms(idle_timeout_s);
}

std::optional<std::chrono::milliseconds> RelayArgs::quit_after() const {
  if (quit_after_s < 0) return std::nullopt;
  return seconds_to_ms(quit_after_s);
}

std::chrono::milliseconds seconds_to_ms(double seconds) {
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::ceil(seconds * 1000.0)));
}

void add_relay_options(CLI::App& command, RelayArgs& args) {
  constexpr double kYear = 86400.0 * 365;
  args.exec_option = command.add_option(
      "-e,--exec", args.exec,
      "Run CMD with /bin/sh -c, the socket as its stdin and stdout (like ncat -e); "
      "SOCKIT_PEER and SOCKIT_LOCAL hold the addresses")
      ->type_name("CMD");
  command.add_flag("-x,--hex", args.hex,
                   "Dump the traffic to stderr: '>' sent, '<' received, offset, hex, ASCII (like ncat -x)");
  args.idle_timeout_option =
      command
          .add_option("--idle-timeout", args.idle_timeout_s,
                      "Close the connection when no byte moves either way for SECONDS (exit status 1)")
          ->transform(seconds_in(0.001, kYear));
  args.quit_after_option =
      command
          .add_option("-q,--quit-after", args.quit_after_s,
                      "After the end of stdin (or the --exec command's exit), wait at most SECONDS for the "
                      "peer to close, then stop (exit status 0; like nc -q)")
          ->transform(seconds_in(0, kYear));
}

int check_relay_options(const RelayArgs& args, std::string_view command, std::string_view address_text,
                        bool serves_datagrams) {
  if (!args.has_exec()) return kExitOk;
  if (args.exec.empty()) return usage_error(command, address_text, "--exec needs a command");
  if (serves_datagrams) {
    return usage_error(command, address_text,
                       "--exec needs connections (tcp://, unix:, unix-seqpacket:); a datagram socket "
                       "has no client to give a command to");
  }
  // The command holds the socket itself: sockit never sees the bytes.
  if (args.hex) {
    return usage_error(command, address_text, "--hex cannot see the traffic of an --exec command (it owns the socket)");
  }
  if (args.idle_timeout_option->count() > 0) {
    return usage_error(command, address_text,
                       "--idle-timeout cannot see the traffic of an --exec command (it owns the socket)");
  }
  return kExitOk;
}

SessionOptions session_options(const RelayArgs& args) {
  SessionOptions options;
  options.idle_timeout = args.idle_timeout();
  options.quit_after = args.quit_after();
  options.hex = args.hex;
  return options;
}

}  // namespace sockit::cli

namespace sockit::cli {

int finish_relay(std::string_view command, std::string_view address_text, PumpEnd end,
                 const SessionOptions& options) {
  switch (end) {
    case PumpEnd::idle_timeout:
      fmt::print(stderr, "sockit: {} {}: idle timeout: no data either way for {:g} s\n", command, address_text,
                 options.idle_timeout.value_or(std::chrono::milliseconds(0)).count() / 1000.0);
      std::fflush(stderr);
      return kExitFailure;
    case PumpEnd::quit_after:
      note("--quit-after passed: stopping");
      return kExitOk;
    case PumpEnd::stdout_closed:
      note("stdout closed: stopping");
      return kExitOk;
    case PumpEnd::stopped:
    case PumpEnd::finished:
      return kExitOk;
  }
  return kExitOk;
}

}  // namespace sockit::cli
