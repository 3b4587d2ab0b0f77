// IoHandle: one descriptor registered with an EventLoop, and the operations the
// loop can run on it. Move-only; destroying it cancels every pending operation
// (their callbacks never run) and unregisters the descriptor.
//
// Operations (loop thread only; callbacks run on the loop thread, never from
// inside the call that started the operation):
//  - accept(fn): multishot; fn(Result<Fd>) once per connection (non-blocking,
//    close-on-exec). EMFILE/ENFILE come through as errors; accepting continues.
//  - receive(fn): multishot; fn(Result<span>) once per chunk of bytes (or one
//    datagram). An empty span means end of stream; an error ends the receive.
//    On datagram and seqpacket sockets an empty datagram or record also reads as
//    an empty span, indistinguishable from end of stream here: use
//    net::DatagramEndpoint / net::Connection, which tell the two apart.
//    The span is only valid during the callback (it points into loop-owned
//    buffers: a provided-buffer ring on io_uring). pause_receive()/resume_receive()
//    apply backpressure: while paused no data is read from the kernel.
//  - send(buffers, fn): one send at a time per handle; fn(Result<size_t>) with
//    the bytes written, which may be fewer than asked (the caller sends the rest).
//    The buffers must stay valid until fn runs. send(buffers, fn, owner) lends
//    them instead: `owner` keeps the bytes alive, and the loop holds it for as long
//    as the kernel may still read them, which can be after fn ran for a closed
//    handle. Only a lent send may go out zero-copy (io_uring, sends of at least
//    LoopOptions::send_zc_threshold bytes, IORING_OP_SEND_ZC): fn then runs
//    once the kernel has let go of the pages, so the caller may reuse the bytes
//    the moment fn runs, as with any send.
//  - send_now(bytes): the bytes the kernel takes right now, without an operation,
//    where the backend makes its syscalls when operations start (the readiness
//    backends: one non-blocking send, so a reply costs no trip through the loop).
//    A completion backend batches every send into its next wait and takes nothing
//    here (0). Never while a send() is pending. An error is returned, not acted
//    on: the next send() meets it again and reports it through its callback.
//  - sends_zero_copy(bytes): whether a lent send() of that many bytes may go out
//    zero-copy, so the caller lends (and so keeps alive) only where it matters.
//  - connect(endpoint, fn): non-blocking connect; fn(Status).
//  - wait_readable(fn) / wait_writable(fn): single-shot readiness for callers that
//    make their own syscalls (recvmmsg/sendmmsg with sender addresses, which
//    receive() and send() cannot give). fn(Status) runs once when the descriptor is
//    readable / writable; it may be spurious, so try the syscall and wait again on
//    EAGAIN. wait_readable takes receive()'s place on the handle (use one or the
//    other), wait_writable send()'s. Readiness backends wait in the poller;
//    io_uring submits an IORING_OP_POLL_ADD. On edge-triggered epoll, call
//    wait_writable only after a send said EAGAIN (no new edge comes otherwise);
//    a reader may stop before EAGAIN: the engine checks and reports it again.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>

#include "sockit/address.hpp"
#include "sockit/fd.hpp"
#include "sockit/result.hpp"

namespace sockit::event {

class LoopCore;

using AcceptFn = std::move_only_function<void(Result<Fd>)>;
using ReceiveFn = std::move_only_function<void(Result<std::span<const std::byte>>)>;
using SendFn = std::move_only_function<void(Result<std::size_t>)>;
using ConnectFn = std::move_only_function<void(Status)>;
using ReadyFn = std::move_only_function<void(Status)>;

class IoHandle {
 public:
  IoHandle() = default;
  IoHandle(IoHandle&& other) noexcept;
  IoHandle& operator=(IoHandle&& other) noexcept;
  ~IoHandle();

  [[nodiscard]] bool valid() const noexcept { return core_ != nullptr; }
  [[nodiscard]] int fd() const noexcept { return fd_; }

  void accept(AcceptFn fn);
  void receive(ReceiveFn fn);
  void pause_receive();
  void resume_receive();
  void send(std::span<const std::span<const std::byte>> buffers, SendFn fn,
            std::shared_ptr<const void> owner = nullptr);
  [[nodiscard]] Result<std::size_t> send_now(std::span<const std::byte> bytes);
  [[nodiscard]] bool sends_zero_copy(std::size_t bytes) const;
  void connect(const Endpoint& endpoint, ConnectFn fn);
  void wait_readable(ReadyFn fn);
  void wait_writable(ReadyFn fn);
  // Cancels everything and unregisters now (the destructor does the same).
  void reset();

 private:
  friend class LoopCore;
  IoHandle(LoopCore* core, std::uint32_t slot, std::uint32_t generation, int fd)
      : core_(core), slot_(slot), generation_(generation), fd_(fd) {}
  [[nodiscard]] LoopCore* checked_core(const char* operation) const;
  LoopCore* core_ = nullptr;
  std::uint32_t slot_ = 0;
  std::uint32_t generation_ = 0;
  int fd_ = -1;
};

}  // namespace sockit::event
