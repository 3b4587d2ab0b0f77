// Diagnostics on stderr. stdout carries only the bytes received from the peer,
// so that `sockit connect ... > file` captures exactly the data.
//
// note() prints only with -v; announce_listening() always prints, because tests
// and scripts read that line to learn the port the kernel chose for port 0.
#pragma once

#include <fmt/core.h>

#include <cstdio>
#include <string_view>
#include <utility>

#include "sockit/address.hpp"

namespace sockit::cli {

void set_verbose(bool on);
[[nodiscard]] bool verbose();

void print_note(std::string_view text);

template <typename... Args>
void note(fmt::format_string<Args...> format, Args&&... args) {
  if (verbose()) print_note(fmt::format(format, std::forward<Args>(args)...));
}

// "sockit: listening on ADDR", flushed at once.
void announce_listening(const Address& address);

}  // namespace sockit::cli
