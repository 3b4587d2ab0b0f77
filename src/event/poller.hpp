// Poller: the readiness interface under the readiness engine (internal). One
// .cpp per kernel interface (backends/select_poller.cpp, poll_poller.cpp,
// epoll_poller.cpp), each small: Redis's ae_*.c are the model.
//
// Interest is a set of kReadable/kWritable; `token` is an opaque 64-bit value
// (a packed SlotRef) handed back with each ready event.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "sockit/result.hpp"

namespace sockit::event {

inline constexpr std::uint32_t kReadable = 1;
inline constexpr std::uint32_t kWritable = 2;
inline constexpr std::uint32_t kError = 4;   // in ready events only (EPOLLERR/HUP, POLLERR/HUP/NVAL)
inline constexpr std::uint32_t kHangup = 8;  // in ready events only: the peer shut down writing (EPOLLRDHUP/HUP)

struct ReadyEvent {
  std::uint64_t token = 0;
  std::uint32_t events = 0;
};

class Poller {
 public:
  virtual ~Poller() = default;
  [[nodiscard]] virtual const char* name() const = 0;
  // Edge-triggered pollers report a descriptor once per change: the engine must
  // then drain to EAGAIN.
  [[nodiscard]] virtual bool edge_triggered() const { return false; }
  [[nodiscard]] virtual Status add(int fd, std::uint32_t interest, std::uint64_t token) = 0;
  [[nodiscard]] virtual Status modify(int fd, std::uint32_t interest, std::uint64_t token) = 0;
  virtual void remove(int fd) = 0;
  // Waits up to `timeout` (nullopt: forever) and fills `out`; returns the count.
  [[nodiscard]] virtual Result<std::size_t> wait(std::optional<std::chrono::nanoseconds> timeout,
                                                 std::span<ReadyEvent> out) = 0;
};

Result<std::unique_ptr<Poller>> make_select_poller();
Result<std::unique_ptr<Poller>> make_poll_poller();
Result<std::unique_ptr<Poller>> make_epoll_poller(bool edge_triggered);

}  // namespace sockit::event
