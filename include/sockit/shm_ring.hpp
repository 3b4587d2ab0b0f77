// ShmRing: a message channel between two processes through shared memory, the
// reference article's "shared memory may be faster" made into something usable.
//
// Two single-producer single-consumer rings, one per direction, in one memfd, set
// up over a connected Unix stream socket (the control socket): create() makes the
// memory and four eventfds and passes them with SCM_RIGHTS; join() on the other end
// receives and checks them. After that no byte crosses a socket: a message is a
// 4-byte length and its bytes copied into the ring, and the receiver copies them
// out. A side that finds the ring empty (or full) spins for ShmRingOptions::spin,
// then sleeps in poll() on an eventfd; the other side writes that eventfd only when
// the flag in shared memory says somebody sleeps, so a busy channel makes no
// syscalls at all.
//
// Bounded and crash-safe:
// - Each direction holds at most `capacity` bytes; send() blocks (or times out)
//   while its ring is full. A message is at most capacity - 4 bytes.
// - The control socket stays open for the channel's life and every sleep also
//   polls it: a peer that dies (or closes) wakes the other side at once. What it
//   sent before is still delivered; then receive() reports errc::end_of_stream if
//   the peer called close() first, errc::peer_dead if it just went away; send()
//   reports EPIPE.
// - Nothing in shared memory is trusted: the memfd must be sealed against
//   shrinking (so a mapping can never fault past its end), its size must match its
//   header, and indices and lengths are checked on every use; a peer that writes
//   nonsense gets errc::ring_corrupt, never a crash or an out-of-bounds copy.
//
// Thread safety: one thread may send while another receives on the same side;
// two senders (or two receivers) on one side must not run at once.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>

#include "sockit/deadline.hpp"
#include "sockit/result.hpp"
#include "sockit/stream_socket.hpp"

namespace sockit {

struct ShmRingOptions {
  // Bytes per direction: a power of two from 4 KiB to 1 GiB.
  std::size_t capacity = std::size_t{1} << 20;
  // How long a side that finds nothing to do polls the ring before it sleeps. Spinning
  // saves the sleeping side's wake-up (a syscall and a scheduler round trip, several
  // microseconds) when the peer answers quickly; it burns that much CPU when it does
  // not. 0: sleep at once. Each side uses its own value.
  std::chrono::microseconds spin{20};
};

class ShmRing {
 public:
  // The creating side. `control` must be a connected Unix stream socket (e.g. from
  // stream_socket_pair() or an accepted unix: connection); the ring owns it from
  // now on.
  [[nodiscard]] static Result<ShmRing> create(StreamSocket control, ShmRingOptions options = {},
                                              Deadline deadline = {});
  // The other side: receives what create() sent and checks it. `spin` as above.
  [[nodiscard]] static Result<ShmRing> join(StreamSocket control, Deadline deadline = {},
                                            std::chrono::microseconds spin = ShmRingOptions{}.spin);

  ShmRing(ShmRing&&) noexcept;
  ShmRing& operator=(ShmRing&&) noexcept;
  ShmRing(const ShmRing&) = delete;
  ShmRing& operator=(const ShmRing&) = delete;
  ~ShmRing();  // close()s

  // Sends one message of 0 to max_message_size() bytes, waiting while the ring is
  // full. errc::timed_out at the deadline (nothing was sent); EPIPE once the peer
  // has closed or gone.
  [[nodiscard]] Status send(std::span<const std::byte> message, Deadline deadline = {});
  // Receives the next message into `buffer` and returns its size, waiting while
  // there is none. errc::message_truncated if it does not fit: it stays in the
  // ring, and next_message_size() says how big it is.
  [[nodiscard]] Result<std::size_t> receive(std::span<std::byte> buffer, Deadline deadline = {});
  // The size of the message receive() would return now; nullopt if none is there.
  [[nodiscard]] Result<std::optional<std::size_t>> next_message_size() const;

  // Tells the peer nothing more will be sent: it receives what is in the ring, then
  // errc::end_of_stream. Idempotent. Receiving still works after it.
  void close();

  [[nodiscard]] std::size_t capacity() const noexcept;
  [[nodiscard]] std::size_t max_message_size() const noexcept;

 private:
  struct State;
  explicit ShmRing(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace sockit
