#!/usr/bin/env bash
# Message-rate peers side by side, in one run (`make bench-peers`; docs/BENCHMARKS.md
# "Message-rate peers" explains it).
#
#   scripts/bench-peers.sh [BUILD_DIR]        # default build/release
#
# bench/peers/*_pushpull: one-way 64-byte messages from a sender thread to a
# receiver thread in one process, over a Unix socket and TCP loopback, for sockit
# (net::Connection, length-prefix framing), ZeroMQ PUSH/PULL and nng push0/pull0.
# Each program checks every message it receives and exits non-zero on a mismatch,
# so a broken peer has no rate. Rounds are interleaved (every peer once per
# transport per round); the report shows the median of the rounds and its ratio
# to sockit's median from the same run. A peer whose program was not built (its
# library is missing) is noted and skipped.
# External references, when the tools are installed: iperf3's TCP loopback
# throughput (at its default write size and at 64 KiB) beside `sockit bench`'s TCP
# 64 KiB figure, and sockperf's ping-pong round trip (UDP and TCP, 64-byte messages).
#
# Environment: BENCH_DURATION (3 s per run) BENCH_ROUNDS (3)
# Output: the report on stdout and in build/bench/peers-latest.md (and
# peers-<time>.md); the programs' JSON lines in peers-<time>.jsonl.
set -euo pipefail

BUILD=${1:-build/release}
DURATION=${BENCH_DURATION:-3}
ROUNDS=${BENCH_ROUNDS:-3}
PEERS=(sockit zmq nng)
TRANSPORTS=(unix tcp)
# Every process is bounded: a run gets its duration plus this much.
GRACE=20

[[ -x $BUILD/bench/sockit_pushpull ]] || { echo "bench-peers: $BUILD/bench/sockit_pushpull is missing (build $BUILD first)" >&2; exit 1; }
python3 -c "import sys; d=float(sys.argv[1]); sys.exit(0 if 0 < d <= 600 else 1)" "$DURATION" ||
  { echo "bench-peers: BENCH_DURATION must be a number of seconds in (0, 600], not $DURATION" >&2; exit 1; }
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "bench-peers: BENCH_ROUNDS must be a positive integer, not $ROUNDS" >&2; exit 1; }
RUN_TIMEOUT=$(python3 -c "import math,sys; print(math.ceil(float(sys.argv[1])) + $GRACE)" "$DURATION")

OUT_DIR=build/bench
mkdir -p "$OUT_DIR"
STAMP=$(date +%Y%m%d-%H%M%S)
REPORT=$OUT_DIR/peers-$STAMP.md
RAW=$OUT_DIR/peers-$STAMP.jsonl
: >"$RAW"
WORK=$(mktemp -d /tmp/sockit-bench-peers.XXXXXX)

# Servers started in the background (iperf3, sockperf): killed on any exit.
BACKGROUND=()
cleanup() {
  local pid
  for pid in "${BACKGROUND[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

binary() { echo "$BUILD/bench/$1_pushpull"; }

# Which peers can run.
RUNNABLE=()
for peer in "${PEERS[@]}"; do
  if [[ -x $(binary "$peer") ]]; then
    RUNNABLE+=("$peer")
  else
    echo "bench-peers: $(binary "$peer") not built (its library is missing: make bench-peers installs it), skipping $peer" >&2
  fi
done

echo "bench-peers: ${#RUNNABLE[@]} peers x ${#TRANSPORTS[@]} transports x $ROUNDS rounds of ${DURATION} s" >&2
for ((round = 1; round <= ROUNDS; ++round)); do
  for transport in "${TRANSPORTS[@]}"; do
    for peer in "${RUNNABLE[@]}"; do
      if ! line=$(timeout -k 2 "$RUN_TIMEOUT" "$(binary "$peer")" "$transport" "$DURATION"); then
        echo "bench-peers: $peer over $transport failed (round $round); no rate for a peer that does not deliver" >&2
        exit 1
      fi
      echo "$line" >>"$RAW"
      echo "  round $round: $line" >&2
    done
  done
done

# A port for a reference tool's server (they cannot bind port 0 and say which they
# got); a collision makes that reference fail and be left out, never a wrong figure.
port() { echo $((20000 + RANDOM % 20000)); }

# Waits (up to 5 s) for a line matching $2 in log $1.
wait_for() {
  local i
  for ((i = 0; i < 50; ++i)); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

REFERENCES=()
IPERF_SECONDS=$(python3 -c "import math,sys; print(max(1, math.ceil(float(sys.argv[1]))))" "$DURATION")
# iperf3 twice: at its default write size (128 KiB) and at 64 KiB, the size of
# `sockit bench`'s largest message, whose TCP figure follows in the same run (the
# like-for-like comparison: both one stream, one write per 64 KiB).
if command -v iperf3 >/dev/null; then
  for length in default 65536; do
    p=$(port)
    timeout -k 2 $((IPERF_SECONDS + GRACE)) iperf3 -s -1 -B 127.0.0.1 -p "$p" --forceflush >"$WORK/iperf3-server.log" 2>&1 &
    BACKGROUND+=($!)
    length_args=()
    label="its default 128 KiB writes"
    if [[ $length != default ]]; then
      length_args=(-l "$length")
      label="64 KiB writes"
    fi
    if wait_for "$WORK/iperf3-server.log" "Server listening" &&
      timeout -k 2 $((IPERF_SECONDS + GRACE)) iperf3 -c 127.0.0.1 -p "$p" -t "$IPERF_SECONDS" "${length_args[@]}" -J >"$WORK/iperf3.json" 2>&1; then
      figure=$(python3 -c "import json,sys; b=json.load(open(sys.argv[1]))['end']['sum_received']['bits_per_second']; print('%.2f Gbit/s = %.0f MB/s' % (b / 1e9, b / 8e6))" "$WORK/iperf3.json")
      REFERENCES+=("| iperf3 TCP loopback throughput (one stream, ${IPERF_SECONDS} s, $label) | $figure |")
    else
      echo "bench-peers: iperf3 ($label) did not run; its reference is left out" >&2
    fi
  done
else
  echo "bench-peers: iperf3 not installed (make bench-peers installs it), no throughput reference" >&2
fi
SOCKIT=$BUILD/tools/sockit/sockit
if [[ -x $SOCKIT ]]; then
  if timeout -k 2 $((IPERF_SECONDS * 3 + GRACE)) "$SOCKIT" bench --transports tcp --sizes 64KiB --backends epoll \
      --duration "$IPERF_SECONDS" --json "$WORK/sockit-bench.json" >/dev/null 2>"$WORK/sockit-bench.err"; then
    while IFS= read -r line; do REFERENCES+=("$line"); done < <(python3 - "$WORK/sockit-bench.json" "$IPERF_SECONDS" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
for r in results:
    if r["measure"] == "throughput" and r["transport"] == "tcp":
        print("| sockit bench TCP loopback throughput, %s path (64 KiB messages, %s s) | %.2f Gbit/s = %.0f MB/s |"
              % (r["path"], sys.argv[2], r["mb_per_s"] * 8 / 1e3, r["mb_per_s"]))
PY
)
  else
    echo "bench-peers: sockit bench (TCP 64 KiB) failed: $(tail -n 1 "$WORK/sockit-bench.err"); its figure is left out" >&2
  fi
else
  echo "bench-peers: $SOCKIT is not built; no sockit bench TCP figure beside iperf3's" >&2
fi

if command -v sockperf >/dev/null; then
  for proto in udp tcp; do
    p=$(port)
    flag=()
    [[ $proto == tcp ]] && flag=(--tcp)
    timeout -k 2 $((IPERF_SECONDS + GRACE)) sockperf server -i 127.0.0.1 -p "$p" "${flag[@]}" >"$WORK/sockperf-server-$proto.log" 2>&1 &
    BACKGROUND+=($!)
    if wait_for "$WORK/sockperf-server-$proto.log" "using .* to block" &&
      timeout -k 2 $((IPERF_SECONDS + GRACE)) sockperf ping-pong -i 127.0.0.1 -p "$p" "${flag[@]}" -m 64 -t "$IPERF_SECONDS" >"$WORK/sockperf-$proto.log" 2>&1; then
      # sockperf reports latency as half the round trip; the report shows the round trip.
      median=$(sed -n 's/.*percentile 50.000 = *\([0-9.]*\).*/\1/p' "$WORK/sockperf-$proto.log")
      if [[ -n $median ]]; then
        rtt=$(python3 -c "import sys; print('%.2f' % (2 * float(sys.argv[1])))" "$median")
        REFERENCES+=("| sockperf ping-pong ${proto^^} RTT, median (64 B, ${IPERF_SECONDS} s) | $rtt µs |")
      fi
    else
      echo "bench-peers: sockperf $proto did not run; its reference is left out" >&2
    fi
  done
else
  echo "bench-peers: sockperf not installed (make bench-peers installs it), no round-trip reference" >&2
fi

{
  echo "# Message-rate peers ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(uname -r))"
  echo
  echo "One-way 64-byte messages, sender thread -> receiver thread in one process, every"
  echo "message checked; median of $ROUNDS rounds of ${DURATION} s; ratio = the peer's median / sockit's"
  echo "(same transport, same run)."
  echo
  python3 - "$RAW" "$ROUNDS" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
peers, runs, settings = [], {}, {}
for r in rows:
    if r["peer"] not in peers:
        peers.append(r["peer"])
    runs.setdefault((r["peer"], r["transport"]), []).append(r["msgs_per_s"])
    settings[r["peer"]] = r["settings"]
transport_names = {"unix": "Unix socket (ipc://)", "tcp": "TCP loopback"}
print("| transport | peer | msgs/s (median) | rounds | ratio to sockit |")
print("|---|---|---:|---:|---:|")
for t in ("unix", "tcp"):
    base = statistics.median(runs[("sockit", t)]) if ("sockit", t) in runs else None
    for p in peers:
        if (p, t) not in runs:
            continue
        m = statistics.median(runs[(p, t)])
        ratio = "%.3g" % (m / base) if base else "-"
        print("| %s | %s | %s | %d | %s |" % (transport_names[t], p, format(round(m), ","), len(runs[(p, t)]), ratio))
print()
print("Settings:")
for p in peers:
    print("- %s: %s" % (p, settings[p]))
EOF
  if ((${#REFERENCES[@]} > 0)); then
    echo
    echo "External references (same run):"
    echo
    echo "| reference | figure |"
    echo "|---|---:|"
    printf '%s\n' "${REFERENCES[@]}"
  fi
} >"$REPORT"
cp "$REPORT" "$OUT_DIR/peers-latest.md"
cat "$REPORT"
