// What `sockit send-fd` and `sockit recv-fd` agree on.
//
// Descriptors travel as SCM_RIGHTS ancillary data (sockit::send_fds/recv_fds), at
// most kMaxFdsPerMessage per message, each message carrying one data byte: on a
// stream socket the kernel drops ancillary data sent without any. recv-fd listens
// (it binds the path, so it owns the socket file and its permissions decide who may
// hand it files); send-fd connects.
#pragma once

#include <cstddef>
#include <string_view>

#include "sockit/address.hpp"

namespace sockit::cli {

// The data byte that goes with each batch of descriptors.
inline constexpr std::byte kFdBatchByte{'F'};

// Descriptors pass only over Unix sockets: for any other address this prints
// "sockit: COMMAND ADDR: ..." and returns false (the caller exits 2).
[[nodiscard]] bool check_fd_passing_address(std::string_view command, std::string_view text,
                                            const Address& address);

}  // namespace sockit::cli
