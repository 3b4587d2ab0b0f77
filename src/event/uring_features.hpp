// What this kernel's io_uring can do, probed once per process (internal).
//
// Following Seastar's available(): the only reliable test is to try. The probe
// creates a small ring (which fails under seccomp, kernel.io_uring_disabled, an old
// kernel or a tight RLIMIT_MEMLOCK), checks the opcodes the engine needs with
// io_uring_get_probe_ring, and then exercises each optional feature for real:
// registering a provided-buffer ring, a multishot accept on a listening Unix socket
// that is then connected to, and a multishot receive on a socket pair with a byte
// queued, and a zero-copy sendmsg with usage reports on an unconnected TCP socket.
// A feature counts only if the kernel delivered a completion with IORING_CQE_F_MORE
// (and, for the zero-copy send, its notification); anything else becomes a
// fallback with its reason. The engine
// stays correct if the probe is wrong, because it re-arms every operation whose
// completion lacks F_MORE.
//
// Thread safety: uring_features() may be called from any thread (a function-local
// static); the testing override must be set before the loops that should see it
// are created.
#pragma once

#include <liburing.h>

#include <string>
#include <vector>

namespace sockit::event {

struct UringFeatures {
  bool usable = false;
  std::string refused;    // why not, when !usable
  int refused_errno = 0;  // the kernel's answer (ENOSYS, EPERM, ...), for the factory's error

  bool provided_buffers = false;       // io_uring_register_buf_ring (5.19)
  bool multishot_accept = false;       // IORING_ACCEPT_MULTISHOT (5.19)
  bool multishot_recv = false;         // IORING_RECV_MULTISHOT (6.0), needs provided buffers
  bool cqe_skip = false;               // IOSQE_CQE_SKIP_SUCCESS, used on cancel requests (5.17)
  bool send_zc = false;                // IORING_OP_SEND_ZC / SENDMSG_ZC with usage reports (6.2)
  // Asked for when the buffer ring is registered (IOU_PBUF_RING_INC, 6.12), which
  // falls back by itself; false only when disabled for testing.
  bool incremental_buffers = true;
  std::vector<std::string> fallbacks;  // "feature: reason" for each one missing
};

// The probe's result, computed on first use.
const UringFeatures& uring_features();

// Feature names as BackendInfo lists them.
inline constexpr const char* kFeatureProvidedBuffers = "provided-buffers";
inline constexpr const char* kFeatureMultishotAccept = "multishot-accept";
inline constexpr const char* kFeatureMultishotRecv = "multishot-recv";
inline constexpr const char* kFeatureSendZc = "send-zc";
inline constexpr const char* kFeatureIncrementalBuffers = "incremental-buffers";

// Newer than liburing 2.3's headers (Debian 12); kernel UAPI values since 6.2.
#ifndef IORING_SEND_ZC_REPORT_USAGE
#define IORING_SEND_ZC_REPORT_USAGE (1U << 3)
#endif
#ifndef IORING_NOTIF_USAGE_ZC_COPIED
#define IORING_NOTIF_USAGE_ZC_COPIED (1U << 31)
#endif

// Tests only: engines created afterwards behave as if the named features were
// missing, so the fallback paths can be exercised on a kernel that has them all.
// An empty list restores the probed set.
void uring_disable_features_for_testing(std::vector<std::string> names);
// The probed features minus any disabled for testing.
UringFeatures uring_effective_features();

// Creates `ring` with `entries` submission entries (and `cq_entries` completion
// entries, at least 4 x entries, clamped to the kernel's limit), asking for the setup flags that
// help a single-threaded loop and dropping each one the kernel refuses. Returns
// 0 or -errno; `fallbacks` gets "flag: reason" for each flag dropped, `features`
// the ones kept. `single_issuer` asks for SINGLE_ISSUER + DEFER_TASKRUN with the
// ring created disabled (R_DISABLED): the caller enables it with
// io_uring_enable_rings on the thread that will submit.
int uring_init_ring(io_uring& ring, unsigned entries, unsigned cq_entries, bool single_issuer,
                    std::vector<std::string>& features, std::vector<std::string>& fallbacks);

}  // namespace sockit::event
