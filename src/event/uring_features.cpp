#include "event/uring_features.hpp"

#include <liburing.h>
#include <sys/socket.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <mutex>

#include "event/engine.hpp"
#include "event/uring_buffer_ring.hpp"
#include "sys/error.hpp"
#include "sys/syscalls.hpp"

namespace sockit::event {

namespace {

std::string message(int negative_errno) { return sys::error_from_errno(-negative_errno).message(); }

// Why io_uring_setup failed, in words a user can act on.
std::string describe_setup_error(int err) {
  switch (err) {
    case -EPERM: {
      std::ifstream sysctl("/proc/sys/kernel/io_uring_disabled");
      int disabled = 0;
      if (sysctl >> disabled && disabled == 2)
        return "io_uring is disabled on this system (kernel.io_uring_disabled=2)";
      if (disabled == 1)
        return "io_uring is restricted to kernel.io_uring_group (kernel.io_uring_disabled=1)";
      return "io_uring_setup refused (EPERM): blocked by seccomp or a container policy";
    }
    case -ENOSYS:
      return "io_uring_setup is not implemented (kernel built without io_uring, or seccomp answers ENOSYS)";
    case -ENOMEM:
      return "io_uring_setup: out of memory (kernels before 5.12 charge rings to RLIMIT_MEMLOCK)";
    default:
      return "io_uring_setup: " + message(err);
  }
}

struct RingGuard {
  io_uring* ring;
  ~RingGuard() { io_uring_queue_exit(ring); }
};

// Submits what is queued and waits (at most a second) for one completion, which it
// copies out and consumes. False on timeout.
bool next_completion(io_uring& ring, io_uring_cqe& out) {
  __kernel_timespec ts{.tv_sec = 1, .tv_nsec = 0};
  io_uring_cqe* cqe = nullptr;
  if (io_uring_submit_and_wait_timeout(&ring, &cqe, 1, &ts, nullptr) < 0 || cqe == nullptr) return false;
  out = *cqe;
  io_uring_cqe_seen(&ring, cqe);
  return true;
}

// "" if a multishot accept on a listening socket that has a connection waiting
// completes with F_MORE; otherwise why not.
std::string try_multishot_accept(io_uring& ring) {
  auto listener = sys::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK);
  if (!listener) return "probe socket: " + listener.error().message();
  Endpoint autobind;  // a bare family asks the kernel for an abstract name
  autobind.storage.ss_family = AF_UNIX;
  autobind.length = sizeof(sa_family_t);
  if (auto s = sys::bind(listener->get(), autobind); !s) return "probe bind: " + s.error().message();
  if (auto s = sys::listen(listener->get(), 4); !s) return "probe listen: " + s.error().message();
  auto name = sys::local_endpoint(listener->get());
  if (!name) return "probe getsockname: " + name.error().message();
  auto client = sys::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK);
  if (!client) return "probe socket: " + client.error().message();
  if (auto s = sys::connect(client->get(), *name); !s && !sys::is_would_block(s.error())) {
    return "probe connect: " + s.error().message();
  }
  io_uring_sqe* sqe = io_uring_get_sqe(&ring);
  io_uring_prep_multishot_accept(sqe, listener->get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  io_uring_sqe_set_data64(sqe, 1);
  io_uring_cqe cqe{};
  if (!next_completion(ring, cqe)) return "no completion within a second";
  if (cqe.res >= 0) Fd(cqe.res).reset();  // the probe's connection: close it
  if (cqe.res < 0) return "kernel rejects IORING_ACCEPT_MULTISHOT (" + message(cqe.res) + ")";
  if ((cqe.flags & IORING_CQE_F_MORE) == 0) return "completion without IORING_CQE_F_MORE";
  return "";
}

// "" if a multishot receive into the buffer group completes with F_MORE and a
// provided buffer; otherwise why not.
std::string try_multishot_recv(io_uring& ring, BufferRing& buffers) {
  auto pair = sys::socketpair(SOCK_STREAM | SOCK_NONBLOCK);
  if (!pair) return "probe socketpair: " + pair.error().message();
  if (auto n = sys::send(pair->second.get(), "x", 1, 0); !n) return "probe send: " + n.error().message();
  io_uring_sqe* sqe = io_uring_get_sqe(&ring);
  io_uring_prep_recv_multishot(sqe, pair->first.get(), nullptr, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = buffers.group();
  io_uring_sqe_set_data64(sqe, 2);
  io_uring_cqe cqe{};
  if (!next_completion(ring, cqe)) return "no completion within a second";
  if ((cqe.flags & IORING_CQE_F_BUFFER) != 0) {
    buffers.release(static_cast<std::uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT),
                    static_cast<std::size_t>(std::max(cqe.res, 0)), /*kernel_keeps=*/false);
  }
  if (cqe.res < 0) return "kernel rejects IORING_RECV_MULTISHOT (" + message(cqe.res) + ")";
  if ((cqe.flags & IORING_CQE_F_MORE) == 0) return "completion without IORING_CQE_F_MORE";
  return "";
}

// "" if a zero-copy sendmsg asking for usage reports is accepted and ends with its
// notification; otherwise why not. The socket is an unconnected TCP socket: the
// send fails (EPIPE) without any network, but only after the kernel has checked
// the opcode, the flags and the socket's zero-copy support, and a notification
// follows a failed zero-copy send just as it follows a successful one.
std::string try_send_zc(io_uring& ring) {
  auto sock = sys::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK);
  if (!sock) sock = sys::socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK);
  if (!sock) return "probe socket: " + sock.error().message();
  char byte = 'x';
  iovec iov{&byte, 1};
  msghdr header{};
  header.msg_iov = &iov;
  header.msg_iovlen = 1;
  io_uring_sqe* sqe = io_uring_get_sqe(&ring);
  io_uring_prep_sendmsg_zc(sqe, sock->get(), &header, MSG_NOSIGNAL);
  sqe->ioprio |= IORING_SEND_ZC_REPORT_USAGE;
  io_uring_sqe_set_data64(sqe, 3);
  // Earlier probes' multishot requests end (their sockets are closed) on this ring
  // too: skip their completions.
  auto next_of_this_probe = [&ring](io_uring_cqe& out) {
    for (int skipped = 0; skipped < 8; ++skipped) {
      if (!next_completion(ring, out)) return false;
      if (out.user_data == 3) return true;
    }
    return false;
  };
  io_uring_cqe result{};
  if (!next_of_this_probe(result)) return "no completion within a second";
  if (result.res == -EINVAL) return "kernel rejects IORING_SEND_ZC_REPORT_USAGE (needs 6.2)";
  if (result.res == -EOPNOTSUPP) return "TCP sockets refuse zero copy here";
  if ((result.flags & IORING_CQE_F_MORE) == 0) return "no notification follows the send (" + message(result.res) + ")";
  io_uring_cqe notification{};
  if (!next_of_this_probe(notification)) return "no notification within a second";
  if ((notification.flags & IORING_CQE_F_NOTIF) == 0) return "second completion is not a notification";
  return "";
}

UringFeatures probe() {
  UringFeatures f;
  f.refused_errno = EOPNOTSUPP;         // unless the kernel gives a better answer below
  std::unique_ptr<BufferRing> buffers;  // destroyed after the ring is gone
  io_uring ring{};
  if (int r = io_uring_queue_init(8, &ring, 0); r < 0) {
    f.refused = describe_setup_error(r);
    f.refused_errno = -r;
    return f;
  }
  RingGuard guard{&ring};

  io_uring_probe* ops = io_uring_get_probe_ring(&ring);
  if (ops == nullptr) {
    f.refused = "kernel cannot report its io_uring opcodes (IORING_REGISTER_PROBE needs 5.6)";
    return f;
  }
  struct Needed {
    int op;
    const char* name;
  };
  static constexpr Needed kNeeded[] = {
      {IORING_OP_ACCEPT, "ACCEPT"},     {IORING_OP_RECV, "RECV"},
      {IORING_OP_SENDMSG, "SENDMSG"},   {IORING_OP_SEND, "SEND"},
      {IORING_OP_CONNECT, "CONNECT"},
      {IORING_OP_READ, "READ"},         {IORING_OP_WRITEV, "WRITEV"},
      {IORING_OP_POLL_ADD, "POLL_ADD"}, {IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL"},
  };
  for (const Needed& n : kNeeded) {
    if (!io_uring_opcode_supported(ops, n.op)) f.refused = std::string("kernel lacks IORING_OP_") + n.name;
  }
  const bool has_send_zc = io_uring_opcode_supported(ops, IORING_OP_SEND_ZC) != 0 &&
                           io_uring_opcode_supported(ops, IORING_OP_SENDMSG_ZC) != 0;
  io_uring_free_probe(ops);
  if (!f.refused.empty()) return f;
  // FAST_POLL: socket operations wait inside the kernel instead of failing with
  // EAGAIN; SUBMIT_STABLE: a request's msghdr and sockaddr may be freed once it is
  // submitted; NODROP: completions are never lost when the CQ ring is full.
  constexpr unsigned kNeededFeatures = IORING_FEAT_FAST_POLL | IORING_FEAT_SUBMIT_STABLE | IORING_FEAT_NODROP;
  if ((ring.features & kNeededFeatures) != kNeededFeatures) {
    f.refused = "kernel lacks IORING_FEAT_FAST_POLL, SUBMIT_STABLE or NODROP (5.7+)";
    return f;
  }
  f.usable = true;
  f.refused_errno = 0;
  f.cqe_skip = (ring.features & IORING_FEAT_CQE_SKIP) != 0;

  if (auto b = BufferRing::create(ring, 0, 1, 64, /*incremental=*/false); b) {
    buffers = std::move(*b);
    f.provided_buffers = true;
  } else {
    f.fallbacks.push_back(std::string(kFeatureProvidedBuffers) + ": io_uring_register_buf_ring: " +
                          b.error().message() + "; each receive reads into a buffer of its own");
  }
  if (std::string why = try_multishot_accept(ring); why.empty()) {
    f.multishot_accept = true;
  } else {
    f.fallbacks.push_back(std::string(kFeatureMultishotAccept) + ": " + why +
                          "; single-shot accept, re-armed");
  }
  std::string why = buffers ? try_multishot_recv(ring, *buffers) : "needs provided buffers";
  if (why.empty()) {
    f.multishot_recv = true;
  } else {
    f.fallbacks.push_back(std::string(kFeatureMultishotRecv) + ": " + why + "; single-shot recv, re-armed");
  }
  why = has_send_zc ? try_send_zc(ring) : "kernel lacks IORING_OP_SEND_ZC / SENDMSG_ZC (needs 6.1)";
  if (why.empty()) {
    f.send_zc = true;
  } else {
    f.fallbacks.push_back(std::string(kFeatureSendZc) + ": " + why + "; large sends are copied");
  }
  return f;
}

std::mutex testing_mutex;
std::vector<std::string> disabled_for_testing;

}  // namespace

const UringFeatures& uring_features() {
  static const UringFeatures features = probe();
  return features;
}

void uring_disable_features_for_testing(std::vector<std::string> names) {
  std::lock_guard lock(testing_mutex);
  disabled_for_testing = std::move(names);
}

UringFeatures uring_effective_features() {
  UringFeatures f = uring_features();
  std::lock_guard lock(testing_mutex);
  auto disable = [&](bool& flag, const char* name, const char* why) {
    if (!flag) return;
    flag = false;
    f.fallbacks.push_back(std::string(name) + ": " + why);
  };
  for (const std::string& name : disabled_for_testing) {
    if (name == kFeatureProvidedBuffers)
      disable(f.provided_buffers, kFeatureProvidedBuffers, "disabled for testing");
    if (name == kFeatureMultishotAccept)
      disable(f.multishot_accept, kFeatureMultishotAccept, "disabled for testing");
    if (name == kFeatureMultishotRecv)
      disable(f.multishot_recv, kFeatureMultishotRecv, "disabled for testing");
    if (name == kFeatureSendZc) disable(f.send_zc, kFeatureSendZc, "disabled for testing");
    if (name == kFeatureIncrementalBuffers) f.incremental_buffers = false;  // the engine says why
  }
  if (!f.provided_buffers) disable(f.multishot_recv, kFeatureMultishotRecv, "needs provided buffers");
  return f;
}

int uring_init_ring(io_uring& ring, unsigned entries, unsigned cq_entries, bool single_issuer,
                    std::vector<std::string>& features, std::vector<std::string>& fallbacks) {
  // Newest first: on EINVAL the newest flag still asked for is dropped, since a
  // kernel that lacks one flag lacks every flag added after it.
  struct Optional {
    unsigned flags;
    const char* name;
  };
  static constexpr Optional kOptional[] = {
      // One thread submits and reaps (6.1): task work waits for the loop's next
      // enter instead of interrupting it, and the kernel skips the locking that
      // several submitters need. R_DISABLED: the ring binds to its thread only when
      // enabled, at the loop's first wait, so it may be created on another one.
      {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED,
       "single-issuer+defer-taskrun"},
      // Task work runs when the loop enters the kernel anyway, not by interrupting it.
      {IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG, "coop-taskrun"},  // 5.19
      // One bad request does not hold back the rest of the batch.
      {IORING_SETUP_SUBMIT_ALL, "submit-all"},  // 5.18
      // Multishot operations post many completions per request: a CQ ring much
      // larger than the SQ keeps them out of the kernel's slower overflow list.
      {IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP, "large-cq"},  // 5.5
  };
  unsigned wanted = 0;
  for (const Optional& o : kOptional) wanted |= o.flags;
  if (!single_issuer) wanted &= ~(IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED);
  for (;;) {
    io_uring_params params{};
    params.flags = wanted;
    if ((wanted & IORING_SETUP_CQSIZE) != 0)
      params.cq_entries = std::max(cq_entries, entries <= (1u << 24) ? entries * 4 : entries);
    const int r = io_uring_queue_init_params(entries, &ring, &params);
    if (r == 0) break;
    const auto next = std::find_if(std::begin(kOptional), std::end(kOptional),
                                   [&](const Optional& o) { return (wanted & o.flags) != 0; });
    if (r != -EINVAL || next == std::end(kOptional)) return r;
    wanted &= ~next->flags;
    fallbacks.push_back(std::string(next->name) + ": refused by the kernel (" + message(r) + ")");
  }
  for (const Optional& o : kOptional) {
    if ((wanted & o.flags) != 0) features.emplace_back(o.name);
  }
  // SINGLE_ISSUER and DEFER_TASKRUN bind the ring to one thread, and
  // io_uring_enter from any other then fails with EEXIST. EventLoop lets run() hand
  // the loop to another thread, so only a loop that promises to stay on one
  // (LoopOptions::io_uring_single_thread) is bound.
  if (!single_issuer) {
    fallbacks.emplace_back("single-issuer: not used: EventLoop::run() may move the loop to another thread");
    fallbacks.emplace_back("defer-taskrun: not used: needs single-issuer");
  }
  return 0;
}

bool uring_available(std::string* reason) {
  const UringFeatures& f = uring_features();
  if (!f.usable && reason != nullptr) *reason = f.refused;
  return f.usable;
}

}  // namespace sockit::event
