#!/usr/bin/env bash
# Large writes with and without io_uring zero-copy sends (`make bench-zc`;
# docs/BENCHMARKS.md explains it).
#
#   scripts/bench-zc.sh [BUILD_DIR]        # default build/release
#
# bench/zc_send sends BENCH_ZC_TOTAL bytes over one TCP connection in messages of
# each size, in each mode: raw (a blocking send() loop, no library: the floor),
# uring-plain (io_uring, zero copy off), uring-zc (io_uring, threshold 16 KiB,
# adaptive: the default), uring-zc-forced (zero copy on every large send), epoll.
# The receiver is `zc_send receive`, a plain blocking recv() loop in its own process
# that checks every byte. Paths: TCP loopback (127.0.0.1), and a veth pair between
# two network namespaces this script creates (10.201.0.1 -> 10.201.0.2; only as
# root, deleted again on exit). Rounds are interleaved (every mode once per size
# per round, starting point rotated), the sender is pinned to cpu 0 and the
# receiver to cpu 1. Median of the rounds; ratios against raw and uring-plain of the
# same path and size in the same run.
#
# Environment: BENCH_ROUNDS (3) BENCH_ZC_TOTAL (2 GiB, bytes; a multiple of every size)
#   BENCH_ZC_SIZES ("16384 65536 262144 1048576") BENCH_ZC_PATHS ("loopback veth")
#   BENCH_ZC_MODES ("raw uring-plain uring-zc uring-zc-forced epoll")
#   BENCH_ZC_VERIFY (1: the receiver checks every byte; 0: it only counts)
#   BENCH_ZC_TIMEOUT (60 s per run)
# Output: the report on stdout, also written to build/bench/zc-<time>.md (and
# build/bench/zc-latest.md); raw JSON lines beside it (.jsonl).
set -euo pipefail

BUILD=${1:-build/release}
ZC=$BUILD/bench/zc_send
ROUNDS=${BENCH_ROUNDS:-3}
TOTAL=${BENCH_ZC_TOTAL:-$((2 << 30))}
SIZES=${BENCH_ZC_SIZES:-16384 65536 262144 1048576}
PATHS=${BENCH_ZC_PATHS:-loopback veth}
read -r -a MODES <<<"${BENCH_ZC_MODES:-raw uring-plain uring-zc uring-zc-forced epoll}"
VERIFY=${BENCH_ZC_VERIFY:-1}
RUN_TIMEOUT=${BENCH_ZC_TIMEOUT:-60}

[[ -x $ZC ]] || { echo "bench-zc: $ZC is missing (build $BUILD first)" >&2; exit 1; }
for size in $SIZES; do
  if ((size < 8 || size % 8 != 0 || TOTAL % size != 0)); then
    echo "bench-zc: BENCH_ZC_TOTAL ($TOTAL) must be a multiple of every size, sizes multiples of 8 ($size)" >&2
    exit 1
  fi
done

OUT_DIR=build/bench
mkdir -p "$OUT_DIR"
STAMP=$(date +%Y%m%d-%H%M%S)
REPORT=$OUT_DIR/zc-$STAMP.md
RAW=$OUT_DIR/zc-$STAMP.jsonl
: >"$RAW"
WORK=$(mktemp -d /tmp/sockit-bench-zc.XXXXXX)

# The veth path's namespaces. Only those this script created are deleted.
NS_SEND=sockit-zc-a
NS_RECV=sockit-zc-b
SEND_IP=10.201.0.1
RECV_IP=10.201.0.2
CREATED_NS=()
RECEIVER_PID=""
cleanup() {
  stop_receiver
  local ns
  for ns in "${CREATED_NS[@]}"; do
    ip netns delete "$ns" 2>/dev/null || echo "bench-zc: could not delete network namespace $ns" >&2
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Two cores or more: sender on cpu 0, receiver on cpu 1.
if (($(nproc) >= 2)); then
  SEND_PIN=(taskset -c 0)
  RECV_PIN=(taskset -c 1)
  PINNING="sender on cpu 0, receiver on cpu 1 (taskset)"
else
  SEND_PIN=()
  RECV_PIN=()
  PINNING="not pinned: one core, sender and receiver share it"
fi

NOTES=()

# The receiver bounds itself (30 s to be connected to, 30 s of silence at most) and
# exits at EOF. `ip netns exec` and taskset exec it, so RECEIVER_PID is zc_send itself.
# stop_receiver [GRACE_S]: waits up to GRACE_S (0) for it to exit, then kills it;
# sets RECEIVER_STATUS.
RECEIVER_STATUS=0
stop_receiver() {
  [[ -n $RECEIVER_PID ]] || return 0
  local grace=${1:-0} _
  for _ in $(seq "$((grace * 20))"); do
    kill -0 "$RECEIVER_PID" 2>/dev/null || break
    sleep 0.05
  done
  kill -KILL "$RECEIVER_PID" 2>/dev/null || true
  set +e
  wait "$RECEIVER_PID" 2>/dev/null
  RECEIVER_STATUS=$?
  set -e
  RECEIVER_PID=""
}

# --- the veth path -----------------------------------------------------------------
# setup_veth: two fresh namespaces joined by a veth pair, created inside them (so
# nothing is ever added to the machine's own namespace). Returns 1 with SKIP_WHY set
# when it cannot be done here.
SKIP_WHY=""
setup_veth() {
  if ((EUID != 0)); then SKIP_WHY="needs root (ip netns)"; return 1; fi
  if ! command -v ip >/dev/null; then SKIP_WHY="no \`ip\` command (Debian: iproute2)"; return 1; fi
  if ! ip netns list >/dev/null 2>"$WORK/ip.err"; then SKIP_WHY="\`ip netns list\` failed: $(head -c 200 "$WORK/ip.err")"; return 1; fi
  local ns
  for ns in "$NS_SEND" "$NS_RECV"; do
    if ip netns list | awk '{print $1}' | grep -qxF "$ns"; then
      SKIP_WHY="network namespace $ns exists already (left by an interrupted run? \`ip netns delete $ns\`); not touching it"
      return 1
    fi
  done
  for ns in "$NS_SEND" "$NS_RECV"; do
    if ! ip netns add "$ns" 2>"$WORK/ip.err"; then SKIP_WHY="ip netns add $ns: $(head -c 200 "$WORK/ip.err")"; return 1; fi
    CREATED_NS+=("$ns")
  done
  if ! {
    ip link add sockit-zc0 netns "$NS_SEND" type veth peer name sockit-zc1 netns "$NS_RECV" &&
      ip -n "$NS_SEND" addr add "$SEND_IP/24" dev sockit-zc0 &&
      ip -n "$NS_RECV" addr add "$RECV_IP/24" dev sockit-zc1 &&
      ip -n "$NS_SEND" link set lo up && ip -n "$NS_RECV" link set lo up &&
      ip -n "$NS_SEND" link set sockit-zc0 up && ip -n "$NS_RECV" link set sockit-zc1 up
  } 2>"$WORK/ip.err"; then
    SKIP_WHY="veth set-up failed: $(head -c 200 "$WORK/ip.err")"
    return 1
  fi
  # The link is up once the receiver's address answers. Without ping, go on: a run
  # that cannot connect fails on its own, with the reason.
  command -v ping >/dev/null || return 0
  for _ in $(seq 50); do
    ip netns exec "$NS_SEND" ping -c 1 -W 1 "$RECV_IP" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 0
}

ACTIVE_PATHS=()
for path in $PATHS; do
  case $path in
    loopback) ACTIVE_PATHS+=(loopback) ;;
    veth)
      if setup_veth; then
        ACTIVE_PATHS+=(veth)
        VETH_MTU=$(ip -n "$NS_SEND" -o link show sockit-zc0 | sed -n 's/.* mtu \([0-9]*\).*/\1/p')
      else
        NOTES+=("veth path skipped: $SKIP_WHY.")
        echo "bench-zc: veth path skipped: $SKIP_WHY" >&2
      fi
      ;;
    *) echo "bench-zc: unknown path $path (loopback, veth)" >&2; exit 1 ;;
  esac
done

# in_ns PATH SIDE: the command prefix that puts a process on that side of the path.
in_ns() {
  if [[ $1 == veth ]]; then
    if [[ $2 == send ]]; then echo "ip netns exec $NS_SEND"; else echo "ip netns exec $NS_RECV"; fi
  fi
}

# --- one run ---------------------------------------------------------------------------
# run_one PATH SIZE MODE: starts the receiver, runs the sender; sets RUN_STATUS
# (0 ok, 3 skipped, other failed) and RUN_SENDER / RUN_RECEIVER (JSON) or RUN_ERROR.
run_one() {
  local path=$1 size=$2 mode=$3 listen
  local -a recv_ns send_ns verify=()
  read -r -a recv_ns <<<"$(in_ns "$path" recv)"
  read -r -a send_ns <<<"$(in_ns "$path" send)"
  if [[ $path == veth ]]; then listen="tcp://$RECV_IP:0"; else listen="tcp://127.0.0.1:0"; fi
  if [[ $VERIFY == 1 ]]; then verify=(--verify); fi
  RUN_SENDER="" RUN_RECEIVER="" RUN_ERROR=""
  # Removed first: the receiver's redirection creates it anew, and until then the
  # previous run's "listening on" line must not be read.
  rm -f "$WORK/recv.err" "$WORK/recv.out"
  "${recv_ns[@]}" "${RECV_PIN[@]}" "$ZC" receive --listen "$listen" "${verify[@]}" --size "$size" \
    >"$WORK/recv.out" 2>"$WORK/recv.err" &
  RECEIVER_PID=$!
  local address=""
  for _ in $(seq 100); do
    address=$(sed -n 's/^zc_send: listening on //p' "$WORK/recv.err" 2>/dev/null | head -1)
    [[ -n $address ]] && break
    kill -0 "$RECEIVER_PID" 2>/dev/null || break
    sleep 0.05
  done
  if [[ -z $address ]]; then
    stop_receiver
    RUN_STATUS=1
    RUN_ERROR="receiver did not listen: $(head -c 300 "$WORK/recv.err" | tr '\n' ' ')"
    return
  fi
  set +e
  "${send_ns[@]}" "${SEND_PIN[@]}" timeout "$RUN_TIMEOUT" "$ZC" send --mode "$mode" --address "$address" \
    --size "$size" --total "$TOTAL" --timeout-seconds "$((RUN_TIMEOUT - 5))" >"$WORK/send.out" 2>"$WORK/send.err"
  RUN_STATUS=$?
  set -e
  # The receiver exits at EOF; after a failed or skipped sender it may still wait.
  if ((RUN_STATUS == 0)); then stop_receiver 10; else stop_receiver; fi
  local recv_status=$RECEIVER_STATUS
  if ((RUN_STATUS == 3)); then
    RUN_ERROR=$(sed -n 's/^zc_send: skipped: //p' "$WORK/send.err" | head -1)
    return
  fi
  if ((RUN_STATUS != 0)); then
    if ((RUN_STATUS == 124)); then echo "killed by timeout after $RUN_TIMEOUT s" >>"$WORK/send.err"; fi
    RUN_ERROR="sender: $(tr '\n' ' ' <"$WORK/send.err" | head -c 400)"
    return
  fi
  RUN_SENDER=$(cat "$WORK/send.out")
  RUN_RECEIVER=$(cat "$WORK/recv.out")
  if ((recv_status != 0)); then
    RUN_STATUS=1
    RUN_ERROR="receiver: $(tr '\n' ' ' <"$WORK/recv.err" | head -c 400)"
    return
  fi
  local received
  received=$(sed -n 's/.*"bytes":\([0-9]*\).*/\1/p' <<<"$RUN_RECEIVER")
  if [[ $received != "$TOTAL" ]]; then
    RUN_STATUS=1
    RUN_ERROR="receiver got $received of $TOTAL bytes"
  fi
}

# --- machine -----------------------------------------------------------------------------
CPU_MODEL=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
{
  echo "# sockit zero-copy send benchmark ($STAMP)"
  echo
  echo "- kernel: $(uname -r); CPU: ${CPU_MODEL:-unknown} x $(nproc); $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- $TOTAL bytes per run over one TCP connection, messages of $SIZES bytes;" \
    "$ROUNDS interleaved rounds; $PINNING; receiver checks every byte: $([[ $VERIFY == 1 ]] && echo yes || echo no)"
  echo "- paths: ${ACTIVE_PATHS[*]:-none}$([[ -n ${VETH_MTU:-} ]] && echo " (veth MTU $VETH_MTU, $SEND_IP -> $RECV_IP between namespaces $NS_SEND and $NS_RECV)")"
  if [[ -n ${GLIBC_TUNABLES:-} ]]; then echo "- GLIBC_TUNABLES=$GLIBC_TUNABLES (both processes)"; fi
  echo "- MB/s: bytes / wall time from the first send to the close (the receiver's FIN seen); CPU-s/GB: the sender's" \
    "user+sys CPU (getrusage RUSAGE_SELF) over the same window per 10^9 bytes; page faults: the sender's minor faults" \
    "in that window per 10^6 bytes (a page is 4,096 bytes: 244 per MB means every byte went through a fresh page);" \
    "receiver CPU-s/GB: the receiver's whole run (it checks every byte unless BENCH_ZC_VERIFY=0)"
} | tee "$REPORT"

# --- rounds -----------------------------------------------------------------------------
declare -A SKIPPED  # mode -> why (the sender said it cannot run it here)
echo >&2
count=${#MODES[@]}
for round in $(seq "$ROUNDS"); do
  for path in "${ACTIVE_PATHS[@]}"; do
    for size in $SIZES; do
      for ((i = 0; i < count; i++)); do
        mode=${MODES[$(((i + round - 1) % count))]}
        [[ -z ${SKIPPED[$mode]:-} ]] || continue
        printf 'bench-zc: round %s/%s %-8s %8s %-16s ' "$round" "$ROUNDS" "$path" "$size" "$mode" >&2
        run_one "$path" "$size" "$mode"
        if ((RUN_STATUS == 3)); then
          SKIPPED[$mode]=$RUN_ERROR
          echo "skipped: $RUN_ERROR" >&2
          continue
        fi
        if ((RUN_STATUS != 0)); then
          echo "FAILED: $RUN_ERROR" >&2
          # shellcheck disable=SC1003  # tr deletes double quotes and backslashes (JSON)
          printf '{"path":"%s","size":%s,"mode":"%s","round":%s,"error":"%s"}\n' \
            "$path" "$size" "$mode" "$round" "$(tr -d '"\\' <<<"$RUN_ERROR")" >>"$RAW"
          continue
        fi
        printf '{"path":"%s","size":%s,"mode":"%s","round":%s,"sender":%s,"receiver":%s}\n' \
          "$path" "$size" "$mode" "$round" "$RUN_SENDER" "$RUN_RECEIVER" >>"$RAW"
        sed -n 's/.*"mb_per_s":\([0-9.]*\).*"cpu_s_per_gb":\([0-9.]*\).*/\1 MB\/s, \2 CPU-s\/GB/p' <<<"$RUN_SENDER" >&2
      done
    done
  done
done

# --- table ---------------------------------------------------------------------------------
for mode in "${!SKIPPED[@]}"; do NOTES+=("$mode skipped: ${SKIPPED[$mode]}"); done
python3 - "$RAW" "${MODES[@]}" <<'EOF' | tee -a "$REPORT"
import json, statistics, sys
raw, modes = sys.argv[1], sys.argv[2:]
rows = [json.loads(line) for line in open(raw)]
ok = [r for r in rows if "sender" in r]
failed = [r for r in rows if "error" in r]
med = statistics.median
def size_label(n):
    return f"{n >> 20} MiB" if n >= 1 << 20 and n % (1 << 20) == 0 else f"{n >> 10} KiB"
print("\n## Results (median of rounds)\n")
print("| path | size | mode | rounds | MB/s | min–max | vs raw | vs uring-plain | CPU-s/GB | CPU vs uring-plain | receiver CPU-s/GB | page faults per MB | zc_sends / zc_copied (median per run) |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
paths = [p for p in ("loopback", "veth") if any(r["path"] == p for r in ok)]
sizes = sorted({r["size"] for r in ok})
for path in paths:
    for size in sizes:
        def runs(mode):
            return [r["sender"] for r in ok if r["path"] == path and r["size"] == size and r["mode"] == mode]
        def m(mode, key):
            rs = runs(mode)
            return med(r[key] for r in rs) if rs else None
        raw_mbs, plain_mbs, plain_cpu = m("raw", "mb_per_s"), m("uring-plain", "mb_per_s"), m("uring-plain", "cpu_s_per_gb")
        for mode in modes:
            rs = runs(mode)
            if not rs:
                continue
            mbs, cpu = m(mode, "mb_per_s"), m(mode, "cpu_s_per_gb")
            recv_cpu = med(r["receiver"]["cpu_s"] / (r["receiver"]["bytes"] / 1e9) for r in ok
                           if r["path"] == path and r["size"] == size and r["mode"] == mode)
            faults = med(r["minor_faults"] / (r["bytes_sent"] / 1e6) for r in rs)
            lo, hi = min(r["mb_per_s"] for r in rs), max(r["mb_per_s"] for r in rs)
            vs_raw = f"{mbs / raw_mbs:.2f}x" if raw_mbs else "n/a"
            vs_plain = f"{mbs / plain_mbs:.2f}x" if plain_mbs else "n/a"
            cpu_plain = f"{cpu / plain_cpu:.2f}x" if plain_cpu else "n/a"
            if mode.startswith("uring"):
                zc = f'{med(r["zc_sends"] for r in rs):,.0f} / {med(r["zc_copied"] for r in rs):,.0f}'
                refused = med(r["zc_refused"] for r in rs)
                if refused:
                    zc += f" (refused {refused:,.0f})"
            else:
                zc = ""
            print(f"| {path} | {size_label(size)} | {mode} | {len(rs)} | {mbs:,.0f} | {lo:,.0f}–{hi:,.0f} | {vs_raw} | {vs_plain} | {cpu:.3f} | {cpu_plain} | {recv_cpu:.3f} | {faults:.0f} | {zc} |")
# From a zero-copy run if there is one: uring-plain's loop leaves send-zc out (threshold 0).
uring = sorted((r for r in ok if r["sender"]["backend"] == "io_uring"), key=lambda r: r["mode"] == "uring-plain")
features = uring[0]["sender"]["features"] if uring else None
if features is not None:
    print(f"\nio_uring features the loop reported: {features or '(none)'}")
if failed:
    print("\nFailed runs: " + "; ".join(f'{r["path"]} {r["size"]} {r["mode"]} round {r["round"]}: {r["error"]}' for r in failed))
EOF
if ((${#NOTES[@]} > 0)); then
  { echo; for note in "${NOTES[@]}"; do echo "- $note"; done; } | tee -a "$REPORT"
fi
cp "$REPORT" "$OUT_DIR/zc-latest.md"
echo >&2
echo "bench-zc: report in $REPORT (raw results: $RAW)" >&2
