// EchoCursor: where one connection's echo stands (the message it is on, and for
// raw framing how many of its bytes have come back), and the check of each chunk
// (raw) or frame (length, line) against the messages sent. Every mode of
// `sockit load` verifies through it, so "echo differs on connection 3, message
// 17, byte 5" means the same wherever it comes from.
#pragma once

#include <fmt/core.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "load_payload.hpp"

namespace sockit::cli {

struct EchoCursor {
  std::uint64_t message = 0;  // the message whose echo comes next
  std::size_t offset = 0;     // raw: its bytes verified so far

  // Checks `data`, the next chunk (framed = false: raw bytes, message boundaries
  // not kept) or the next whole frame (framed = true), against the messages of
  // `connection`, `awaited` of which are in flight. Calls completed(size) for
  // each message whose echo is now whole. Returns what is wrong (for "sockit:
  // load ADDR: ...") or an empty string.
  template <typename Completed>
  std::string check(const LoadPayload& payload, bool framed, std::uint64_t connection, std::uint64_t awaited,
                    std::span<const std::byte> data, Completed&& completed) {
    if (framed) {
      if (awaited == 0) return unexpected(connection, data.size());
      const std::size_t size = payload.size_of(connection, message);
      if (data.size() != size) {
        return fmt::format("echo differs on connection {}, message {}: {} bytes came back, {} were sent",
                           connection, message, data.size(), size);
      }
      const std::size_t at = payload.first_difference(connection, message, 0, data);
      if (at < size) return differs(payload, connection, at, data[at]);
      ++message;
      completed(size);
      return {};
    }
    // A stream: the echo comes back in chunks that need not match the messages.
    while (!data.empty()) {
      if (awaited == 0) return unexpected(connection, data.size());
      const std::size_t size = payload.size_of(connection, message);
      const std::size_t n = std::min(size - offset, data.size());
      const std::size_t at = payload.first_difference(connection, message, offset, data.first(n));
      if (at < n) return differs(payload, connection, offset + at, data[at]);
      offset += n;
      data = data.subspan(n);
      if (offset == size) {
        ++message;
        offset = 0;
        --awaited;
        completed(size);
      }
    }
    return {};
  }

 private:
  std::string differs(const LoadPayload& payload, std::uint64_t connection, std::size_t at, std::byte got) const {
    return fmt::format("echo differs on connection {}, message {}, byte {} (sent {:#04x}, got {:#04x})", connection,
                       message, at, static_cast<unsigned>(payload.byte_at(connection, message, at)),
                       static_cast<unsigned>(got));
  }
  std::string unexpected(std::uint64_t connection, std::size_t n) const {
    return fmt::format("echo differs on connection {}: {} bytes came back beyond the {} messages sent", connection,
                       n, message);
  }
};

}  // namespace sockit::cli
