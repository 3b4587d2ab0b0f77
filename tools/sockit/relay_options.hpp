// The options `connect` and `listen` share for the conversation itself: --exec,
// --hex, --idle-timeout and --quit-after. Registered and checked in one place so
// that both commands spell, range-check and refuse them the same way.
#pragma once

#include <CLI/CLI.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "session.hpp"
#include "sockit/address.hpp"

namespace sockit::cli {

struct RelayArgs {
  std::string exec;              // --exec CMD (empty: relay with stdin/stdout)
  bool hex = false;              // --hex
  double idle_timeout_s = 0;     // --idle-timeout (0: none)
  double quit_after_s = -1;      // --quit-after (negative: none)
  CLI::Option* exec_option = nullptr;
  CLI::Option* idle_timeout_option = nullptr;
  CLI::Option* quit_after_option = nullptr;

  [[nodiscard]] bool has_exec() const { return exec_option != nullptr && exec_option->count() > 0; }
  [[nodiscard]] std::optional<std::chrono::milliseconds> idle_timeout() const;
  [[nodiscard]] std::optional<std::chrono::milliseconds> quit_after() const;
};

// Seconds as milliseconds, rounded up: anything above zero is at least 1 ms.
[[nodiscard]] std::chrono::milliseconds seconds_to_ms(double seconds);

void add_relay_options(CLI::App& command, RelayArgs& args);

// Combinations CLI11 cannot check: kExitOk, or kExitUsage after one line
// "sockit: COMMAND ADDR: why" on stderr. `serves_datagrams`: the command would
// run a datagram server (listen on udp:// or unix-dgram:).
[[nodiscard]] int check_relay_options(const RelayArgs& args, std::string_view command,
                                      std::string_view address_text, bool serves_datagrams);


[[nodiscard]] SessionOptions session_options(const RelayArgs& args);

// The exit status for how a relay ended, with its line: --idle-timeout is a
// runtime error (exit 1, always said, so a script can tell a stalled peer from a
// finished one); --quit-after, a closed stdout and a stop signal are normal ends
// (exit 0, said with -v).
[[nodiscard]] int finish_relay(std::string_view command, std::string_view address_text, PumpEnd end,
                               const SessionOptions& options);

}  // namespace sockit::cli
