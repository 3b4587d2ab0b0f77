// How the CLI reports failures: exit statuses and the one-line error message.
//
// Every runtime error is one line on stderr that names what was being done, the
// address, and the cause as the kernel (or sockit) words it:
//   sockit: connect unix:/tmp/x.sock: connection refused (is a server listening?)
// A person reading a terminal or a log should not need -v to know what went wrong.
#pragma once

#include <string>
#include <string_view>
#include <system_error>

namespace sockit::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // a runtime error (refused, reset, ...)
inline constexpr int kExitUsage = 2;    // bad options or an address that does not parse

// The error's message with the first letter lowered where the kernel capitalises a
// plain word ("Connection refused" -> "connection refused"), so it reads as the
// tail of our line.
[[nodiscard]] std::string describe(const std::error_code& ec);

// The hint print_error adds in parentheses, or empty: only where the cause is
// common and the next step obvious (a wrong guess misleads more than none).
// EACCES on an IP port below ip_unprivileged_port_start says the port needs root
// or CAP_NET_BIND_SERVICE; on a Unix path, to check the path's permissions.
[[nodiscard]] std::string hint_for(std::string_view operation, std::string_view address,
                                   const std::error_code& ec);

// `operation` is the verb ("connect", "listen", ...), `address` the address as the user
// wrote it. Adds a hint where one is known (ECONNREFUSED/ENOENT on connect).
void print_error(std::string_view operation, std::string_view address, const std::error_code& ec);
// Like print_error, with a detail between the address and the cause
// ("sockit: connect tcp://h:1: receive: connection reset by peer").
void print_error(std::string_view operation, std::string_view address, std::string_view detail,
                 const std::error_code& ec);

// A usage error found after parsing (options that do not fit the address):
// "sockit: OPERATION ADDRESS: WHY" on stderr; returns kExitUsage.
int usage_error(std::string_view operation, std::string_view address, std::string_view why);

}  // namespace sockit::cli
