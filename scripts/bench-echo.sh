#!/usr/bin/env bash
# The echo benchmarks of issue 3 (`make bench-echo`; docs/BENCHMARKS.md explains them).
#
#   scripts/bench-echo.sh [BUILD_DIR]        # default build/release
#
# 1. Throughput: for each transport (unix, tcp) and each server (the plain C epoll
#    baseline, the Asio and libuv peers bench/asio_echo.cpp and bench/libuv_echo.c
#    when they were built, then `sockit echo` on every backend), bench/echo_load drives 100
#    connections x 64-byte messages x 16 in flight. Rounds are interleaved (every
#    server once per round, starting point rotated), each server starts fresh, the
#    server is pinned to cpu 0 and the load to cpu 1. Median of the rounds; ratios
#    against c-epoll of the same run.
# 2. Idle cost: bench/idle_rss holds 10,000 connections to c-epoll, asio, libuv and
#    `sockit echo` (epoll, io_uring) and reports the server's RSS growth per connection.
#
# Environment: BENCH_ROUNDS (5) BENCH_DURATION (5 s) BENCH_WARMUP (1 s)
#   BENCH_CONNECTIONS (100) BENCH_MESSAGE_SIZE (64) BENCH_PIPELINE (16)
#   BENCH_IDLE_CONNECTIONS (10000, 0 = skip) BENCH_TRANSPORTS ("unix tcp")
#   BENCH_SERVERS (space-separated subset of: c-epoll asio libuv epoll epoll-et poll select io_uring)
# Output: the report on stdout, also written to build/bench/echo-<time>.md (and
# build/bench/echo-latest.md); raw JSON lines beside it (.jsonl).
set -euo pipefail

BUILD=${1:-build/release}
SOCKIT=$BUILD/tools/sockit/sockit
C_SERVER=$BUILD/bench/c_epoll_echo
ASIO_SERVER=$BUILD/bench/asio_echo   # optional: built only when libasio-dev is installed
UV_SERVER=$BUILD/bench/libuv_echo    # optional: built only when libuv1-dev is installed
LOAD=$BUILD/bench/echo_load
IDLE=$BUILD/bench/idle_rss
ROUNDS=${BENCH_ROUNDS:-5}
DURATION=${BENCH_DURATION:-5}
WARMUP=${BENCH_WARMUP:-1}
CONNECTIONS=${BENCH_CONNECTIONS:-100}
MESSAGE_SIZE=${BENCH_MESSAGE_SIZE:-64}
PIPELINE=${BENCH_PIPELINE:-16}
IDLE_CONNECTIONS=${BENCH_IDLE_CONNECTIONS:-10000}
TRANSPORTS=${BENCH_TRANSPORTS:-unix tcp}
WANTED_SERVERS=${BENCH_SERVERS:-c-epoll asio libuv epoll epoll-et poll select io_uring}

for binary in "$SOCKIT" "$C_SERVER" "$LOAD" "$IDLE"; do
  [[ -x $binary ]] || { echo "bench-echo: $binary is missing (build $BUILD first)" >&2; exit 1; }
done

OUT_DIR=build/bench
mkdir -p "$OUT_DIR"
STAMP=$(date +%Y%m%d-%H%M%S)
REPORT=$OUT_DIR/echo-$STAMP.md
RAW=$OUT_DIR/echo-$STAMP.jsonl
: >"$RAW"
WORK=$(mktemp -d /tmp/sockit-bench.XXXXXX)
SERVER_PID=""
cleanup() {
  if [[ -n $SERVER_PID ]]; then kill -KILL "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Two cores or more: server on cpu 0, load on cpu 1, so neither steals the other's.
if (($(nproc) >= 2)); then
  SERVER_PIN=(taskset -c 0)
  LOAD_PIN=(taskset -c 1)
  PINNING="server on cpu 0, load on cpu 1 (taskset)"
else
  SERVER_PIN=()
  LOAD_PIN=()
  PINNING="not pinned: one core, server and load share it"
fi

# --- which servers exist --------------------------------------------------------
SERVERS=()        # labels, in table order
declare -A COMMAND # label -> server command line (ADDR is substituted)
declare -A BACKEND # label -> backend the summary must report ("" = not checked)
NOTES=()
HELP=$("$SOCKIT" echo --help 2>&1 || true)
MAX_CONNS=()
if grep -q -- '--max-conns' <<<"$HELP"; then MAX_CONNS=(--max-conns 20000); fi
wanted() { [[ " $WANTED_SERVERS " == *" $1 "* ]]; }

if wanted c-epoll; then
  SERVERS+=(c-epoll)
  COMMAND[c-epoll]="$C_SERVER ADDR"
  BACKEND[c-epoll]=""
fi
# The peers (same command line as c_epoll_echo); a binary the build skipped is a note.
for peer in asio libuv; do
  wanted "$peer" || continue
  if [[ $peer == asio ]]; then binary=$ASIO_SERVER package=libasio-dev; else binary=$UV_SERVER package=libuv1-dev; fi
  if [[ -x $binary ]]; then
    SERVERS+=("$peer")
    COMMAND[$peer]="$binary ADDR"
    BACKEND[$peer]=""
  else
    NOTES+=("$peer skipped: $binary was not built ($package was missing when $BUILD was configured).")
  fi
done
if grep -q -- '--backend' <<<"$HELP"; then
  FRAMING=()
  if grep -q -- '--framing' <<<"$HELP"; then FRAMING=(--framing raw); fi
  for backend in epoll epoll-et poll select io_uring; do
    wanted "$backend" || continue
    label="sockit $backend"
    SERVERS+=("$label")
    COMMAND[$label]="$SOCKIT echo ADDR --backend $backend --threads 1 ${FRAMING[*]} ${MAX_CONNS[*]}"
    BACKEND[$label]=$backend
  done
else
  label="sockit (poll, legacy)"
  SERVERS+=("$label")
  COMMAND[$label]="$SOCKIT echo ADDR ${MAX_CONNS[*]}"
  BACKEND[$label]=""
  NOTES+=("\`sockit echo --help\` has no --backend: measured the old poll engine as \"$label\".")
fi

# --- running one server -------------------------------------------------------------
# shellcheck source=scripts/bench-server.sh
source "$(dirname "$0")/bench-server.sh"

# start_server LABEL TRANSPORT: starts it pinned, sets SERVER_PID and SERVER_ADDR;
# returns 1 (with the server's stderr in $WORK/server.err) if it does not listen.
start_server() {
  local label=$1 transport=$2 address
  if [[ $transport == unix ]]; then
    address="unix:$WORK/echo.sock"
    rm -f "$WORK/echo.sock"
  else
    address="tcp://127.0.0.1:0"
  fi
  local -a argv
  read -r -a argv <<<"${COMMAND[$label]/ADDR/$address}"
  launch_server "${SERVER_PIN[@]}" "${argv[@]}"
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }

# Labels skipped for good (io_uring refused), with the reason.
declare -A SKIPPED
check_backend() {  # LABEL: after stop_server; marks the label skipped on a fallback
  local label=$1 want=${BACKEND[$1]} got
  [[ -n $want ]] || return 0
  got=$(reported_backend)
  if [[ -n $got && $got != "$want"* ]]; then
    SKIPPED[$label]="asked for $want, the server ran $got (kernel refused it?)"
    return 1
  fi
  return 0
}

# --- machine -----------------------------------------------------------------
CPU_MODEL=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
{
  echo "# sockit echo benchmark ($STAMP)"
  echo
  echo "- kernel: $(uname -r); CPU: ${CPU_MODEL:-unknown} x $(nproc); $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- $CONNECTIONS connections x $MESSAGE_SIZE-byte messages x $PIPELINE in flight;" \
    "$ROUNDS interleaved rounds of ${WARMUP} s warm-up + ${DURATION} s measured; $PINNING"
  echo "- RTT is a full round trip per message (queued by the load -> echo fully received by the load)"
} | tee "$REPORT"

# --- throughput rounds -------------------------------------------------------------
echo >&2
for round in $(seq "$ROUNDS"); do
  count=${#SERVERS[@]}
  for transport in $TRANSPORTS; do
    for ((i = 0; i < count; i++)); do
      label=${SERVERS[$(((i + round - 1) % count))]}
      [[ -z ${SKIPPED[$label]:-} ]] || continue
      printf 'bench-echo: round %s/%s %-22s %-4s ' "$round" "$ROUNDS" "$label" "$transport" >&2
      if ! start_server "$label" "$transport"; then
        SKIPPED[$label]="did not start: $(head -c 300 "$WORK/server.err" | tr '\n' ' ')"
        echo "did not start" >&2
        continue
      fi
      # The server's CPU time is sampled over the measured window only (after the
      # warm-up), so msgs/s per server CPU-second compares like with like.
      "${LOAD_PIN[@]}" "$LOAD" --address "$SERVER_ADDR" --connections "$CONNECTIONS" \
        --message-size "$MESSAGE_SIZE" --pipeline "$PIPELINE" \
        --duration-seconds "$DURATION" --warmup-seconds "$WARMUP" >"$WORK/load.out" 2>"$WORK/load.err" &
      load_pid=$!
      sleep "$WARMUP"
      ticks_before=$(cpu_ticks "$SERVER_PID")
      time_before=$(date +%s.%N)
      set +e
      wait "$load_pid"
      status=$?
      set -e
      ticks_after=$(cpu_ticks "$SERVER_PID")
      time_after=$(date +%s.%N)
      result=$(cat "$WORK/load.out")
      stop_server
      if ! check_backend "$label"; then
        echo "skipped: ${SKIPPED[$label]}" >&2
        continue
      fi
      if ((status != 0)); then
        echo "FAILED: $(cat "$WORK/load.err")" >&2
        printf '{"kind":"throughput","server":"%s","transport":"%s","round":%s,"error":"%s"}\n' \
          "$label" "$transport" "$round" "$(tr -d '"\n' <"$WORK/load.err")" >>"$RAW"
        continue
      fi
      cpu=$(awk -v t="$((ticks_after - ticks_before))" -v hz="$(getconf CLK_TCK)" \
        -v a="$time_before" -v b="$time_after" 'BEGIN{printf "%.3f", t / hz / (b - a)}')
      printf '{"kind":"throughput","server":"%s","transport":"%s","round":%s,"server_cpu":%s,"load":%s}\n' \
        "$label" "$transport" "$round" "$cpu" "$result" >>"$RAW"
      sed -n 's/.*"msgs_per_s":\([0-9]*\).*/\1 msgs\/s/p' <<<"$result" >&2
    done
  done
done

# --- idle connections ----------------------------------------------------------------
if ((IDLE_CONNECTIONS > 0)); then
  for label in "${SERVERS[@]}"; do
    case $label in c-epoll | asio | libuv | "sockit epoll" | "sockit io_uring" | "sockit (poll, legacy)") ;; *) continue ;; esac
    [[ -z ${SKIPPED[$label]:-} ]] || continue
    for transport in $TRANSPORTS; do
      printf 'bench-echo: idle %-22s %-4s ' "$label" "$transport" >&2
      if ! start_server "$label" "$transport"; then
        echo "did not start" >&2
        continue
      fi
      sleep 0.2
      set +e
      result=$("$IDLE" --address "$SERVER_ADDR" --server-pid "$SERVER_PID" \
        --connections "$IDLE_CONNECTIONS" 2>"$WORK/load.err")
      status=$?
      set -e
      stop_server
      if ((status != 0)); then
        echo "FAILED: $(cat "$WORK/load.err")" >&2
        continue
      fi
      printf '{"kind":"idle","server":"%s","transport":"%s","result":%s}\n' "$label" "$transport" "$result" >>"$RAW"
      sed -n 's/.*"after_echo_vmrss_bytes_per_conn":\([0-9-]*\).*/\1 bytes\/conn/p' <<<"$result" >&2
    done
  done
fi

# --- tables ---------------------------------------------------------------------------
for label in "${!SKIPPED[@]}"; do NOTES+=("$label skipped: ${SKIPPED[$label]}"); done
python3 - "$RAW" "${SERVERS[@]}" <<'EOF' | tee -a "$REPORT"
import json, statistics, sys
raw, order = sys.argv[1], sys.argv[2:]
rows = [json.loads(line) for line in open(raw)]
tp = [r for r in rows if r["kind"] == "throughput" and "load" in r]
failed = [r for r in rows if r["kind"] == "throughput" and "error" in r]
med = statistics.median
print("\n## Throughput (median of rounds)\n")
print("| server | transport | rounds | median msgs/s | vs c-epoll | per-round ratio min–max | p50 RTT µs | p99 RTT µs | server CPU | load CPU | msgs per server CPU-s | vs c-epoll | bytes per load recv |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for transport in ("unix", "tcp"):
    base = {r["round"]: r["load"]["msgs_per_s"] for r in tp if r["server"] == "c-epoll" and r["transport"] == transport}
    base_med = med(base.values()) if base else None
    eff = lambda r: r["load"]["msgs_per_s"] / max(r["server_cpu"], 0.01)
    base_eff = [eff(r) for r in tp if r["server"] == "c-epoll" and r["transport"] == transport]
    base_eff_med = med(base_eff) if base_eff else None
    for server in order:
        rs = [r for r in tp if r["server"] == server and r["transport"] == transport]
        if not rs:
            continue
        m = med(r["load"]["msgs_per_s"] for r in rs)
        ratio = f"{m / base_med:.2f}x" if base_med else "n/a"
        per_round = [r["load"]["msgs_per_s"] / base[r["round"]] for r in rs if r["round"] in base]
        spread = f"{min(per_round):.2f}–{max(per_round):.2f}" if per_round and server != "c-epoll" else ""
        p50 = med(r["load"]["rtt_p50_us"] for r in rs)
        p99 = med(r["load"]["rtt_p99_us"] for r in rs)
        cpu = med(r["server_cpu"] for r in rs)
        load_cpu = med(r["load"]["load_cpu_s"] / (r["load"]["warmup_s"] + r["load"]["measured_s"]) for r in rs)
        e = med(eff(r) for r in rs)
        batches = [r["load"]["load_bytes_per_recv"] for r in rs if "load_bytes_per_recv" in r["load"]]
        batch = f"{med(batches):,.0f}" if batches else ""
        eff_ratio = f"{e / base_eff_med:.2f}x" if base_eff_med else "n/a"
        print(f"| {server} | {transport} | {len(rs)} | {m:,.0f} | {ratio} | {spread} | {p50:,.0f} | {p99:,.0f} | {cpu:.0%} | {load_cpu:.0%} | {e:,.0f} | {eff_ratio} | {batch} |")
if failed:
    print("\nFailed runs: " + "; ".join(f'{r["server"]} {r["transport"]} round {r["round"]}: {r["error"]}' for r in failed))
idle = [r for r in rows if r["kind"] == "idle"]
if idle:
    print("\n## Idle connections (server user-space memory per connection)\n")
    print("| server | transport | connections | held | RSS before KiB | fresh: RSS B/conn | fresh: Private_Dirty B/conn | after one echo: RSS B/conn | after one echo: Private_Dirty B/conn | kernel Slab B/conn (both ends, machine-wide) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in idle:
        x = r["result"]
        held = x["server_fds_held"] - x["server_fds_before"]
        print(f'| {r["server"]} | {r["transport"]} | {x["connections"]:,} | {held:,} (closed: {x["closed_by_server"]}) | {x["vmrss_before_kib"]:,} | '
              f'{x["fresh_vmrss_bytes_per_conn"]:,.0f} | {x["fresh_private_dirty_bytes_per_conn"]:,.0f} | '
              f'{x["after_echo_vmrss_bytes_per_conn"]:,.0f} | {x["after_echo_private_dirty_bytes_per_conn"]:,.0f} | '
              f'{x["kernel_slab_bytes_per_conn_both_ends_machine_wide"]:,.0f} |')
EOF
if ((${#NOTES[@]} > 0)); then
  { echo; for note in "${NOTES[@]}"; do echo "- $note"; done; } | tee -a "$REPORT"
fi
cp "$REPORT" "$OUT_DIR/echo-latest.md"
echo >&2
echo "bench-echo: report in $REPORT (raw results: $RAW)" >&2
