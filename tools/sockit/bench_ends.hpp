// One end of a `sockit bench` measurement, behind one interface whichever path
// through the code it takes, so the ping-pong and streaming loops (bench_run.cpp)
// are written once:
//  - raw: plain read/write/send/recv syscalls on the descriptors, the floor every
//    other path is compared with;
//  - sockit: the blocking API (StreamSocket::send_all/recv_exact,
//    DatagramSocket/SeqPacketSocket::send/recv, ShmRing::send/receive);
//  - loop: an event::EventLoop on a chosen backend driving an IoHandle (multishot
//    receive, send operations), run turn by turn until the message is through, as
//    a request/response client on the loop would.
//
// The virtual call costs a few nanoseconds against the microseconds of a syscall.
// An end owns its descriptors (and its loop). One thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "bench_transports.hpp"
#include "sockit/fd.hpp"
#include "sockit/result.hpp"

namespace sockit::cli {

enum class BenchPathKind { raw, sockit, loop };

struct BenchPath {
  BenchPathKind kind = BenchPathKind::raw;
  std::string backend;  // loop only: "epoll", "io_uring", ...
  // "raw", "sockit", "loop/epoll": the column names of the tables.
  [[nodiscard]] std::string name() const;
};

// Why `path` cannot run over `transport`, or nullopt if it can.
[[nodiscard]] std::optional<std::string_view> path_unavailable(const BenchTransport& transport,
                                                               const BenchPath& path);

class BenchEnd {
 public:
  virtual ~BenchEnd() = default;
  // Sends one whole message (a stream: all of it; otherwise one datagram/record).
  [[nodiscard]] virtual Status send(std::span<const std::byte> message) = 0;
  // Receives one message: on a stream exactly buffer.size() bytes, otherwise one
  // datagram/record (its size is returned; a larger one is errc::message_truncated).
  // errc::timed_out when nothing came within the end's reply timeout.
  [[nodiscard]] virtual Result<std::size_t> receive(std::span<std::byte> buffer) = 0;
};

struct BenchEndOptions {
  // How long receive() waits before errc::timed_out; zero: for ever (the child,
  // which its parent kills when the measurement is over).
  std::chrono::milliseconds reply_timeout{0};
  // shm: this end creates the ring (the other joins it).
  bool creates_ring = false;
};

// `in` and `out` as BenchLink holds them (sockets: `out` is empty). The path must
// be available (path_unavailable() returned nullopt).
[[nodiscard]] Result<std::unique_ptr<BenchEnd>> make_bench_end(const BenchTransport& transport,
                                                               const BenchPath& path, Fd in, Fd out,
                                                               const BenchEndOptions& options);

}  // namespace sockit::cli
