// Engine: what a backend implements (internal). Two engines exist: the readiness
// engine (src/event/readiness_engine.cpp) over a Poller (select, poll, epoll,
// epoll-et), and the completion engine on io_uring (src/event/uring_engine.cpp).
//
// The LoopCore owns the slot table (one Slot per IoHandle) and calls the engine to
// start and cancel operations; the engine reports completions back through
// LoopCore::complete_*(), which checks the slot's generation before running any
// callback, so a completion for a slot that was freed (or freed and reused) is
// dropped. Engines never call user callbacks directly.
//
// Loop thread only, all of it.
#pragma once

#include <sys/uio.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sockit/event/event_loop.hpp"
#include "sockit/event/io_handle.hpp"

namespace sockit::event {

class LoopCore;

// What the readiness engine keeps per slot, as small state machines rather than a
// bag of bits (the io_uring engine keeps its own per-slot state, indexed alike:
// uring_engine.hpp). A reused slot starts from these defaults, which match a fresh
// poller registration (no interest).
struct ReadinessState {
  // A send or connect: not begun; tried (its completion is queued for the next
  // wait); waiting for writability (the kernel said EAGAIN / EINPROGRESS).
  enum class Op : std::uint8_t { idle, started, waiting };
  std::uint8_t interest = 0;    // kReadable | kWritable as the poller has them now
  Op send = Op::idle;
  Op connect = Op::idle;
  bool dirty = false;           // queued to have its interest recomputed before the next wait
  bool edge_armed = false;      // edge-triggered: the next readable edge will be reported
  bool recheck_queued = false;  // edge-triggered: queued to be read once without waiting
  bool peer_hung_up = false;    // a hang-up was reported: drain to EAGAIN or end of stream
};

// One registered descriptor and its pending operations. Ordered by use: what
// every readiness event or completion reads comes first, within 64 bytes (at
// 10,000 connections each slot is a cache miss, so one line should answer
// "whose, still alive, receiving?"); what a send, a connect or a registration
// needs comes after.
struct Slot {
  int fd = -1;
  std::uint32_t generation = 0;  // bumped on free; completions carry it
  ReadinessState readiness;  // the readiness engine's; io_uring keeps its own elsewhere
  bool in_use = false;
  bool is_socket = true;  // receive uses recv on sockets, read on eventfd/signalfd
  bool is_stream = false;  // SOCK_STREAM (set by the edge-triggered engine, the one that asks)
  bool receive_paused = false;
  // IoHandle::wait_readable / wait_writable: the receive (send) reports readiness
  // (an empty chunk / 0 bytes) instead of reading (writing); the caller does the I/O.
  bool receive_readiness = false;
  bool send_readiness = false;
  // Boxed: the core moves a running callback out of its slot (so the callback may
  // replace or free it), and moving a pointer costs nothing where moving a
  // move_only_function costs its manager's indirect calls, about 70 instructions
  // a chunk. One allocation per receive() call, not per chunk.
  std::unique_ptr<ReceiveFn> receive_fn;
  AcceptFn accept_fn;

  SendFn send_fn;
  std::vector<iovec> send_iov;  // the pending send's buffers (caller keeps the bytes alive)
  std::shared_ptr<const void> send_owner;  // set: the bytes are lent (zero copy allowed)
  ConnectFn connect_fn;
  std::unique_ptr<Endpoint> connect_to;  // while connecting: 136 bytes a connection never needs after

  [[nodiscard]] bool accepting() const { return static_cast<bool>(accept_fn); }
  [[nodiscard]] bool receiving() const { return static_cast<bool>(receive_fn) && !receive_paused; }
  [[nodiscard]] bool sending() const { return static_cast<bool>(send_fn); }
  [[nodiscard]] bool connecting() const { return static_cast<bool>(connect_fn); }
};

// A slot index and generation packed into 64 bits: epoll's data.u64 and
// io_uring's user_data carry this, never a raw fd.
struct SlotRef {
  std::uint32_t index = 0;
  std::uint32_t generation = 0;
  [[nodiscard]] std::uint64_t pack() const { return (std::uint64_t{generation} << 32) | index; }
  static SlotRef unpack(std::uint64_t v) {
    return {static_cast<std::uint32_t>(v), static_cast<std::uint32_t>(v >> 32)};
  }
};

class Engine {
 public:
  virtual ~Engine() = default;
  [[nodiscard]] virtual const BackendInfo& info() const = 0;

  // A new slot was registered / is being freed. remove() must cancel everything
  // for the slot; completions that still arrive carry the old generation.
  [[nodiscard]] virtual Status add(SlotRef ref, Slot& slot) = 0;
  virtual void remove(SlotRef ref, Slot& slot) = 0;

  // The slot's wanted operations changed (an op started, finished, was paused or
  // resumed): bring the kernel side in line with Slot's state.
  virtual void update(SlotRef ref, Slot& slot) = 0;

  // Whether a send may be written at once, before the loop's next wait
  // (IoHandle::send_now): readiness engines make their syscalls when an operation
  // starts anyway; a completion engine batches every request into its next wait.
  [[nodiscard]] virtual bool sends_at_once() const = 0;

  // Waits up to `timeout` (nullopt: no limit; zero: don't block) and reports
  // completions through the core. Returns after one wait.
  [[nodiscard]] virtual Status wait(std::optional<std::chrono::nanoseconds> timeout) = 0;
};

// Factories, by name. Each returns an error (with a reason) if the kernel refuses.
Result<std::unique_ptr<Engine>> make_readiness_engine(LoopCore& core, const std::string& poller,
                                                      const LoopOptions& options);
Result<std::unique_ptr<Engine>> make_uring_engine(LoopCore& core, const LoopOptions& options);
// True if an io_uring with the features the engine needs can be created here.
bool uring_available(std::string* reason);

}  // namespace sockit::event
