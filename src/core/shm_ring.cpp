// ShmRing (include/sockit/shm_ring.hpp): the layout in shared memory, the
// hand-over of the memfd and eventfds, and the two rings' producer/consumer code.
//
// Wake-ups without lost signals (the classic Dekker pattern, seq_cst on both
// sides): a consumer about to sleep sets `consumer_waiting`, then re-reads `head`;
// a producer publishes `head`, then reads `consumer_waiting`. With sequentially
// consistent operations at least one of the two sees the other's write, so either
// the consumer does not sleep or the producer writes the eventfd. The same holds
// for a full ring with `tail` and `producer_waiting`.
#include "sockit/shm_ring.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <array>
#include <atomic>
#include <bit>
#include <cstring>
#include <new>
#include <utility>

#include "sockit/ancillary.hpp"
#include "sys/error.hpp"
#include "sys/shared_memory.hpp"

namespace sockit {

namespace {

constexpr std::uint64_t kMagic = 0x73'6f'63'6b'69'74'72'67;  // "sockitrg"
constexpr std::uint32_t kVersion = 1;
constexpr std::size_t kHeaderSize = 4096;
constexpr std::size_t kLengthSize = sizeof(std::uint32_t);
constexpr unsigned kMinLog2 = 12, kMaxLog2 = 30;
// The hand-over: one byte with the memfd and, per direction, its "data" and
// "space" eventfds.
constexpr std::size_t kHandedFds = 5;
constexpr std::byte kHandOverByte{'R'};

static_assert(std::atomic<std::uint64_t>::is_always_lock_free && std::atomic<std::uint32_t>::is_always_lock_free,
              "the ring's shared atomics must be lock-free to work across processes");

// One direction's shared state; each field on its own cache line, so the producer
// and the consumer do not invalidate each other's lines with writes of their own.
struct Direction {
  alignas(64) std::atomic<std::uint64_t> head;  // bytes ever published (the producer writes)
  alignas(64) std::atomic<std::uint64_t> tail;  // bytes ever consumed (the consumer writes)
  alignas(64) std::atomic<std::uint32_t> consumer_waiting;
  alignas(64) std::atomic<std::uint32_t> producer_waiting;
};

struct Header {
  std::uint64_t magic;
  std::uint32_t version;
  std::uint32_t log2_capacity;
  std::array<std::atomic<std::uint32_t>, 2> closed;  // by side: that side called close()
  Direction direction[2];  // direction[s] carries what side s sends
};
static_assert(sizeof(Header) <= kHeaderSize);

std::error_code broken_pipe() { return sys::error_from_errno(EPIPE); }

// A hint to the CPU that this is a spin-wait (it yields the core's pipeline to a
// sibling hyper-thread and saves power).
inline void spin_pause() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

}  // namespace

struct ShmRing::State {
  StreamSocket control;
  sys::SharedMapping mapping;
  Fd memory;
  // events[d][0]: data in direction d (its consumer sleeps on it); [1]: space.
  std::array<std::array<Fd, 2>, 2> events;
  int side = 0;  // 0: create(), 1: join()
  std::size_t capacity = 0;
  std::chrono::microseconds spin{};
  std::uint64_t send_head = 0;     // the producer's own copy: never read back from shared memory
  std::uint64_t receive_tail = 0;  // the consumer's own copy
  // The other side's index as last read. Each side re-reads the peer's cache line
  // only when its copy says the ring is full (producer) or empty (consumer): a
  // busy channel moves a line between the two cores once per batch of messages,
  // not once per message (measured: 64 B messages 4.1 M/s -> see BENCHMARKS.md).
  std::uint64_t seen_tail = 0;     // producer: the consumer's tail
  std::uint64_t seen_head = 0;     // consumer: the producer's head
  bool peer_gone = false;          // the control socket hung up
  bool closed = false;

  Header& header() const { return *reinterpret_cast<Header*>(mapping.data()); }
  Direction& outgoing() const { return header().direction[side]; }
  Direction& incoming() const { return header().direction[1 - side]; }
  std::byte* ring_data(int direction) const {
    return mapping.data() + kHeaderSize + static_cast<std::size_t>(direction) * capacity;
  }
  int data_event(int direction) const { return events[direction][0].get(); }
  int space_event(int direction) const { return events[direction][1].get(); }

  // Copies between a ring and a flat buffer, wrapping at the ring's end.
  void copy_in(int direction, std::uint64_t at, const std::byte* from, std::size_t n) const {
    if (n == 0) return;  // an empty message's data may be a null pointer, which memcpy must not get
    const std::size_t offset = at & (capacity - 1);
    const std::size_t first = std::min(n, capacity - offset);
    std::memcpy(ring_data(direction) + offset, from, first);
    std::memcpy(ring_data(direction), from + first, n - first);
  }
  void copy_out(int direction, std::uint64_t at, std::byte* to, std::size_t n) const {
    if (n == 0) return;
    const std::size_t offset = at & (capacity - 1);
    const std::size_t first = std::min(n, capacity - offset);
    std::memcpy(to, ring_data(direction) + offset, first);
    std::memcpy(to + first, ring_data(direction), n - first);
  }

  // Waits until `ready()` holds, the peer goes, or the deadline passes: spins for
  // `spin`, then sleeps on `event` with `waiting` set. Returns whether `ready()`.
  template <typename Ready>
  Result<bool> wait(Ready ready, std::atomic<std::uint32_t>& waiting, int event, Deadline deadline) {
    if (spin.count() > 0) {
      const auto until = std::chrono::steady_clock::now() + spin;
      for (unsigned i = 1;; ++i) {
        if (ready()) return true;
        if (i % 64 == 0 && std::chrono::steady_clock::now() >= until) break;
        spin_pause();
      }
    }
    for (;;) {
      if (ready()) return true;
      if (peer_gone) return false;
      waiting.store(1, std::memory_order_seq_cst);
      if (ready()) {
        waiting.store(0, std::memory_order_relaxed);
        return true;
      }
      std::array<pollfd, 2> fds{{{event, POLLIN, 0}, {control.native_handle(), POLLIN | POLLRDHUP, 0}}};
      auto polled = sys::poll_any(fds, deadline);
      waiting.store(0, std::memory_order_relaxed);
      if (!polled) return fail(polled.error());
      if (fds[0].revents != 0) sys::drain_event(event);
      // Nothing but the hang-up is ever sent on the control socket after the
      // hand-over, so readable means gone (or misbehaving, which ends it as well).
      if (fds[1].revents != 0) peer_gone = true;
    }
  }

  // Whether a message is waiting: from seen_head, re-read only when that says no.
  // seq_cst: this read is the consumer's half of the wake-up handshake above.
  bool has_incoming() {
    if (seen_head != receive_tail) return true;
    seen_head = incoming().head.load(std::memory_order_seq_cst);
    return seen_head != receive_tail;
  }

  // The next incoming message's length, if one is complete in the ring.
  Result<std::optional<std::size_t>> peek_length() {
    if (!has_incoming()) return std::optional<std::size_t>();
    const std::uint64_t head = seen_head;
    const std::uint64_t available = head - receive_tail;
    if (head < receive_tail || available > capacity || available < kLengthSize) return fail(errc::ring_corrupt);
    std::uint32_t length;
    copy_out(1 - side, receive_tail, reinterpret_cast<std::byte*>(&length), kLengthSize);
    if (length > available - kLengthSize) return fail(errc::ring_corrupt);
    return std::optional<std::size_t>(length);
  }
};

namespace {

Status check_capacity(std::size_t capacity) {
  if (!std::has_single_bit(capacity) || capacity < (std::size_t{1} << kMinLog2) ||
      capacity > (std::size_t{1} << kMaxLog2)) {
    return fail(errc::invalid_argument);
  }
  return {};
}

}  // namespace

Result<ShmRing> ShmRing::create(StreamSocket control, ShmRingOptions options, Deadline deadline) {
  if (!control.is_open()) return fail(errc::invalid_argument);
  if (auto s = check_capacity(options.capacity); !s) return fail(s.error());
  auto state = std::make_unique<State>();
  state->capacity = options.capacity;
  state->spin = options.spin;
  const std::size_t size = kHeaderSize + 2 * options.capacity;
  auto memory = sys::memory_file("sockit-shm-ring", size);
  if (!memory) return fail(memory.error());
  if (auto s = sys::seal_size(memory->get()); !s) return fail(s.error());
  auto mapping = sys::SharedMapping::map(memory->get(), size);
  if (!mapping) return fail(mapping.error());
  state->memory = std::move(*memory);
  state->mapping = std::move(*mapping);
  // The file is zero-filled: the atomics start at 0 and only the constants are set.
  auto* header = new (state->mapping.data()) Header{};
  header->magic = kMagic;
  header->version = kVersion;
  header->log2_capacity = static_cast<std::uint32_t>(std::countr_zero(options.capacity));

  std::array<int, kHandedFds> handed{state->memory.get()};
  for (int d = 0; d < 2; ++d) {
    for (int k = 0; k < 2; ++k) {
      auto event = sys::event_fd();
      if (!event) return fail(event.error());
      state->events[d][k] = std::move(*event);
      handed[1 + 2 * d + k] = state->events[d][k].get();
    }
  }
  auto sent = send_fds(control, std::span(&kHandOverByte, 1), handed, deadline);
  if (!sent) return fail(sent.error());
  state->control = std::move(control);
  state->side = 0;
  return ShmRing(std::move(state));
}

Result<ShmRing> ShmRing::join(StreamSocket control, Deadline deadline, std::chrono::microseconds spin) {
  if (!control.is_open()) return fail(errc::invalid_argument);
  std::byte byte{};
  auto received = recv_fds(control, std::span(&byte, 1), kHandedFds, deadline);
  if (!received) return fail(received.error());
  if (received->size == 0) return fail(errc::end_of_stream);
  if (byte != kHandOverByte || received->fds.size() != kHandedFds) return fail(errc::ring_corrupt);

  auto state = std::make_unique<State>();
  state->spin = spin;
  Fd& memory = received->fds[0];
  // Sealed against shrinking, or the creator could cut the file under our mapping
  // and turn our next access into SIGBUS.
  auto sealed = sys::size_is_sealed(memory.get());
  if (!sealed || !*sealed) return fail(errc::ring_corrupt);
  auto size = sys::file_size(memory.get());
  if (!size) return fail(size.error());
  if (*size < kHeaderSize) return fail(errc::ring_corrupt);
  auto mapping = sys::SharedMapping::map(memory.get(), *size);
  if (!mapping) return fail(mapping.error());
  const auto* header = reinterpret_cast<const Header*>(mapping->data());
  // Read once: the creator could change them while we look.
  const std::uint64_t magic = header->magic;
  const std::uint32_t version = header->version;
  const std::uint32_t log2 = header->log2_capacity;
  if (magic != kMagic || version != kVersion || log2 < kMinLog2 || log2 > kMaxLog2 ||
      *size != kHeaderSize + 2 * (std::size_t{1} << log2)) {
    return fail(errc::ring_corrupt);
  }
  state->capacity = std::size_t{1} << log2;
  state->memory = std::move(memory);
  state->mapping = std::move(*mapping);
  for (int d = 0; d < 2; ++d) {
    for (int k = 0; k < 2; ++k) state->events[d][k] = std::move(received->fds[1 + 2 * d + k]);
  }
  // Both sides start at whatever the creator has published already (normally 0).
  state->side = 1;
  state->send_head = state->outgoing().head.load(std::memory_order_acquire);
  state->receive_tail = state->incoming().tail.load(std::memory_order_acquire);
  state->seen_tail = state->outgoing().tail.load(std::memory_order_acquire);
  state->seen_head = state->receive_tail;
  state->control = std::move(control);
  return ShmRing(std::move(state));
}

ShmRing::ShmRing(std::unique_ptr<State> state) : state_(std::move(state)) {}
ShmRing::ShmRing(ShmRing&&) noexcept = default;
ShmRing& ShmRing::operator=(ShmRing&& other) noexcept {
  if (this != &other) {
    close();
    state_ = std::move(other.state_);
  }
  return *this;
}
ShmRing::~ShmRing() { close(); }

std::size_t ShmRing::capacity() const noexcept { return state_ ? state_->capacity : 0; }
std::size_t ShmRing::max_message_size() const noexcept { return state_ ? state_->capacity - kLengthSize : 0; }

Status ShmRing::send(std::span<const std::byte> message, Deadline deadline) {
  if (!state_ || state_->closed) return fail(broken_pipe());
  State& s = *state_;
  if (message.size() > max_message_size()) return fail(errc::invalid_argument);
  Direction& out = s.outgoing();
  const std::size_t need = kLengthSize + message.size();
  bool corrupt = false;
  auto fits = [&] {
    if (s.capacity - (s.send_head - s.seen_tail) >= need) return true;  // the tail only grows
    // 64-bit byte counts never wrap (that would take 2^64 bytes), so a tail ahead
    // of our head, behind what we saw, or more than a ring behind our head is the
    // peer's doing. seq_cst: the producer's half of the wake-up handshake.
    const std::uint64_t tail = out.tail.load(std::memory_order_seq_cst);
    if (tail > s.send_head || tail < s.seen_tail || s.send_head - tail > s.capacity) {
      corrupt = true;
      return true;
    }
    s.seen_tail = tail;
    return s.capacity - (s.send_head - tail) >= need;
  };
  auto peer_closed = [&] { return s.header().closed[1 - s.side].load(std::memory_order_acquire) != 0; };
  if (peer_closed()) return fail(broken_pipe());
  if (!fits()) {
    auto waited = s.wait([&] { return fits() || peer_closed(); }, out.producer_waiting, s.space_event(s.side), deadline);
    if (!waited) return fail(waited.error());
    if (!*waited || peer_closed()) return fail(broken_pipe());
  }
  if (corrupt) return fail(errc::ring_corrupt);
  const auto length = static_cast<std::uint32_t>(message.size());
  s.copy_in(s.side, s.send_head, reinterpret_cast<const std::byte*>(&length), kLengthSize);
  s.copy_in(s.side, s.send_head + kLengthSize, message.data(), message.size());
  s.send_head += need;
  out.head.store(s.send_head, std::memory_order_seq_cst);
  if (out.consumer_waiting.load(std::memory_order_seq_cst) != 0) {
    if (auto signalled = sys::signal_event(s.data_event(s.side)); !signalled) return fail(signalled.error());
  }
  return {};
}

Result<std::size_t> ShmRing::receive(std::span<std::byte> buffer, Deadline deadline) {
  if (!state_) return fail(errc::invalid_argument);
  State& s = *state_;
  Direction& in = s.incoming();
  auto peer_closed = [&] { return s.header().closed[1 - s.side].load(std::memory_order_acquire) != 0; };
  auto has_message = [&] { return s.has_incoming(); };
  if (!has_message()) {
    auto waited = s.wait([&] { return has_message() || peer_closed(); }, in.consumer_waiting,
                         s.data_event(1 - s.side), deadline);
    if (!waited) return fail(waited.error());
    // Closed (or gone) with nothing left: what it sent before is read first.
    if (!has_message()) return fail(peer_closed() ? errc::end_of_stream : errc::peer_dead);
  }
  auto length = s.peek_length();
  if (!length) return fail(length.error());
  if (!*length) return fail(errc::ring_corrupt);  // has_message() said there was one
  const std::size_t size = **length;
  if (size > buffer.size()) return fail(errc::message_truncated);
  s.copy_out(1 - s.side, s.receive_tail + kLengthSize, buffer.data(), size);
  s.receive_tail += kLengthSize + size;
  in.tail.store(s.receive_tail, std::memory_order_seq_cst);
  if (in.producer_waiting.load(std::memory_order_seq_cst) != 0) {
    if (auto signalled = sys::signal_event(s.space_event(1 - s.side)); !signalled) return fail(signalled.error());
  }
  return size;
}

Result<std::optional<std::size_t>> ShmRing::next_message_size() const {
  if (!state_) return fail(errc::invalid_argument);
  return state_->peek_length();
}

void ShmRing::close() {
  if (!state_ || state_->closed) return;
  State& s = *state_;
  s.closed = true;
  s.header().closed[s.side].store(1, std::memory_order_seq_cst);
  // Wake a peer asleep on either of our directions: it re-checks and sees the flag.
  (void)sys::signal_event(s.data_event(s.side));
  (void)sys::signal_event(s.space_event(1 - s.side));
}

}  // namespace sockit
