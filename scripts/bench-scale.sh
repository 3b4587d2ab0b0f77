#!/usr/bin/env bash
# The connection-count sweep of issue 9 (`make bench-scale`; docs/BENCHMARKS.md,
# "Scaling with connections", explains it): does `sockit echo` hold its echo rate
# from 100 to 10,000 connections?
#
#   scripts/bench-scale.sh [BUILD_DIR]        # default build/release
#
# For every transport (unix, tcp on 127.0.0.1), pipeline depth (1, 16) and
# connection count (100 ... 30,000), bench/echo_load drives 64-byte messages at
# each server: the plain C baselines c_epoll_echo and c_uring_echo, the Asio and
# libuv peers when built, and `sockit echo` on every backend (plus --threads 2 on
# epoll and io_uring). Rounds are interleaved (every server once per cell and
# round, order rotated), each server starts fresh; medians of the rounds; ratios
# against c-epoll of the same round. The server's CPU and RSS are sampled by
# echo_load itself at the edges of the measured window (--server-pid).
#
# Environment: BENCH_ROUNDS (3) BENCH_DURATION (3 s) BENCH_WARMUP (1 s)
#   BENCH_COUNTS ("100 1000 3000 10000 30000"; a count the descriptor limit or,
#     for TCP, the local port range cannot hold is skipped with a note)
#   BENCH_DEPTHS ("1 16") BENCH_TRANSPORTS ("unix tcp") BENCH_MESSAGE_SIZE (64)
#   BENCH_SERVERS (subset of: c-epoll c-uring asio libuv select poll epoll epoll-et
#     io_uring epoll-x2 io_uring-x2)
#   BENCH_LOAD_THREADS (echo_load --threads; default: the cores the load is pinned
#     to, at most 4) BENCH_CONNECT_TIMEOUT (20 s)
#   BENCH_SCALE_PLOT_DIR (where the pictures go; default docs/ when the sweep
#     knobs are all at their defaults, else build/bench/)
#   BENCH_SCALE_PLOT_FORMAT (svg, or png)
# Output: the report on stdout, also in build/bench/scale-<time>.md (and
# build/bench/scale-latest.md), raw JSON lines beside it (.jsonl), and one picture
# per (transport, depth): msgs/s against connections, one line per server.
set -euo pipefail

BUILD=${1:-build/release}
SOCKIT=$BUILD/tools/sockit/sockit
LOAD=$BUILD/bench/echo_load
ROUNDS=${BENCH_ROUNDS:-3}
DURATION=${BENCH_DURATION:-3}
WARMUP=${BENCH_WARMUP:-1}
MESSAGE_SIZE=${BENCH_MESSAGE_SIZE:-64}
CONNECT_TIMEOUT=${BENCH_CONNECT_TIMEOUT:-20}
DEFAULT_COUNTS="100 1000 3000 10000 30000"
DEFAULT_DEPTHS="1 16"
DEFAULT_TRANSPORTS="unix tcp"
DEFAULT_SERVERS="c-epoll c-uring asio libuv select poll epoll epoll-et io_uring epoll-x2 io_uring-x2"
COUNTS=${BENCH_COUNTS:-$DEFAULT_COUNTS}
DEPTHS=${BENCH_DEPTHS:-$DEFAULT_DEPTHS}
TRANSPORTS=${BENCH_TRANSPORTS:-$DEFAULT_TRANSPORTS}
WANTED_SERVERS=${BENCH_SERVERS:-$DEFAULT_SERVERS}
# select's fd_set holds descriptor numbers 0-1023 (FD_SETSIZE); the server's own
# descriptors (std streams, listener, loop internals) come on top of the
# connections, so counts above 960 are not attempted rather than failed.
SELECT_MAX_CONNECTIONS=960
# Descriptors a process holds besides the connections (load or server).
FD_MARGIN=256

for binary in "$SOCKIT" "$LOAD" "$BUILD/bench/c_epoll_echo"; do
  [[ -x $binary ]] || { echo "bench-scale: $binary is missing (build $BUILD first)" >&2; exit 1; }
done

OUT_DIR=build/bench
mkdir -p "$OUT_DIR"
STAMP=$(date +%Y%m%d-%H%M%S)
REPORT=$OUT_DIR/scale-$STAMP.md
RAW=$OUT_DIR/scale-$STAMP.jsonl
: >"$RAW"
WORK=$(mktemp -d /tmp/sockit-bench-scale.XXXXXX)
SERVER_PID=""
cleanup() {
  if [[ -n $SERVER_PID ]]; then { kill -KILL "$SERVER_PID" && wait "$SERVER_PID"; } 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
NOTES=()
note() {  # adds a line to the report's notes, once
  local n
  for n in "${NOTES[@]}"; do [[ $n == "$1" ]] && return 0; done
  NOTES+=("$1")
}

# --- limits: descriptors, local ports -------------------------------------------
# Both the server and the load hold one descriptor per connection, each in its own
# process. Root with CAP_SYS_RESOURCE may raise the hard limit; otherwise the soft
# limit goes up to the hard one and larger counts are skipped.
max_count=0
for count in $COUNTS; do ((count > max_count)) && max_count=$count; done
want_fds=$((max_count + FD_MARGIN))
if (($(ulimit -Hn) < want_fds)); then ulimit -Hn "$want_fds" 2>/dev/null || true; fi
ulimit -Sn "$(ulimit -Hn)"
FD_LIMIT=$(ulimit -Sn)
read -r PORT_LOW PORT_HIGH </proc/sys/net/ipv4/ip_local_port_range
TCP_PORTS=$((PORT_HIGH - PORT_LOW + 1))
# why_not_count COUNT TRANSPORT: prints why the cell cannot run, nothing if it can.
why_not_count() {
  local count=$1 transport=$2
  if ((count + FD_MARGIN > FD_LIMIT)); then
    echo "RLIMIT_NOFILE is $FD_LIMIT (hard limit; raising it needs CAP_SYS_RESOURCE), $count connections need $((count + FD_MARGIN)) per process"
  elif [[ $transport == tcp ]] && ((count > TCP_PORTS)); then
    echo "the local port range ($PORT_LOW-$PORT_HIGH, net.ipv4.ip_local_port_range) has $TCP_PORTS ports for connections to one address"
  fi
}

# --- pinning --------------------------------------------------------------------
# Two cores or more: a single-threaded server on cpu 0, the load on the others.
# A --threads 2 server pinned to one cpu would measure one core's worth of two
# threads, so those rows run unpinned, and so does their load.
NPROC=$(nproc)
if ((NPROC >= 2)); then
  SERVER_PIN=(taskset -c 0)
  LOAD_CPUS=$((NPROC - 1))
  load_cpus=1
  ((NPROC > 2)) && load_cpus="1-$((NPROC - 1))"
  LOAD_PIN=(taskset -c "$load_cpus")
  PINNING="single-threaded servers on cpu 0, the load on cpu $load_cpus (taskset); --threads 2 servers and their load unpinned"
else
  SERVER_PIN=()
  LOAD_PIN=()
  LOAD_CPUS=1
  PINNING="not pinned: one core, server and load share it"
fi
LOAD_THREADS=${BENCH_LOAD_THREADS:-$((LOAD_CPUS < 4 ? LOAD_CPUS : 4))}

# --- which servers exist --------------------------------------------------------
SERVERS=()          # labels, in table order
declare -A COMMAND  # label -> server command line (ADDR is substituted)
declare -A BACKEND  # label -> backend the summary must report ("" = not checked)
declare -A PINNED   # label -> 1 when pinned to cpu 0
wanted() { [[ " $WANTED_SERVERS " == *" $1 "* ]]; }
add_server() {  # LABEL COMMAND BACKEND PINNED
  SERVERS+=("$1")
  COMMAND[$1]=$2
  BACKEND[$1]=$3
  PINNED[$1]=$4
}
# The C baselines and the peers (all take c_epoll_echo's command line); a binary
# the build skipped (liburing, libasio-dev, libuv1-dev missing) is a note.
for name in c-epoll c-uring asio libuv; do
  wanted "$name" || continue
  case $name in
    c-epoll) binary=$BUILD/bench/c_epoll_echo package="" ;;
    c-uring) binary=$BUILD/bench/c_uring_echo package=liburing-dev ;;
    asio) binary=$BUILD/bench/asio_echo package=libasio-dev ;;
    libuv) binary=$BUILD/bench/libuv_echo package=libuv1-dev ;;
  esac
  if [[ -x $binary ]]; then
    add_server "$name" "$binary ADDR" "" 1
  else
    note "$name skipped: $binary was not built ($package missing when $BUILD was configured?)."
  fi
done
for backend in select poll epoll epoll-et io_uring; do
  wanted "$backend" || continue
  add_server "sockit $backend" \
    "$SOCKIT echo ADDR --backend $backend --threads 1 --framing raw --max-conns 100000" "$backend" 1
done
for backend in epoll io_uring; do
  wanted "$backend-x2" || continue
  add_server "sockit $backend x2" \
    "$SOCKIT echo ADDR --backend $backend --threads 2 --framing raw --max-conns 100000" "$backend" 0
done
((${#SERVERS[@]} > 0)) || { echo "bench-scale: BENCH_SERVERS selects no server: $WANTED_SERVERS" >&2; exit 1; }
server_fits() {  # LABEL COUNT: select cannot hold more than FD_SETSIZE descriptors
  [[ $1 != "sockit select" ]] || (($2 <= SELECT_MAX_CONNECTIONS))
}
if wanted select; then
  note "sockit select runs only at counts up to $SELECT_MAX_CONNECTIONS: select(2)'s fd_set holds descriptors below FD_SETSIZE (1024), and the server's own descriptors come on top of the connections."
fi

# --- the cells, and what they will cost --------------------------------------------
CELLS=()  # "transport depth count"
runs=0
conn_runs=0  # connections opened per round, summed over the runs
for transport in $TRANSPORTS; do
  for depth in $DEPTHS; do
    for count in $COUNTS; do
      why=$(why_not_count "$count" "$transport")
      if [[ -n $why ]]; then
        note "$transport, $count connections skipped (every depth): $why."
        continue
      fi
      CELLS+=("$transport $depth $count")
      for label in "${SERVERS[@]}"; do
        server_fits "$label" "$count" || continue
        runs=$((runs + 1))
        conn_runs=$((conn_runs + count))
      done
    done
  done
done
# Besides warm-up and duration, a run spends ~1 s starting and stopping the
# server and ~3 s per 10,000 connections connecting, waiting for first echoes and
# closing (measured on 2 cores).
estimate=$(awk -v r="$ROUNDS" -v s="$runs" -v c="$conn_runs" -v w="$WARMUP" -v d="$DURATION" \
  'BEGIN{printf "%.0f", r * (s * (w + d + 1) + c / 10000 * 3) / 60}')
# Every run stops by itself (echo_load); timeout is the backstop for a hung one.
RUN_TIMEOUT=$(awk -v c="$CONNECT_TIMEOUT" -v w="$WARMUP" -v d="$DURATION" 'BEGIN{printf "%d", c + w + d + 15}')
echo "bench-scale: $ROUNDS rounds x $runs runs of ${WARMUP} s + ${DURATION} s: about $estimate min" >&2

# --- running one server -------------------------------------------------------------
# shellcheck source=scripts/bench-server.sh
source "$(dirname "$0")/bench-server.sh"

# start_server LABEL TRANSPORT: starts it (pinned or not), sets SERVER_PID and
# SERVER_ADDR; returns 1 (its stderr in $WORK/server.err) if it does not listen.
start_server() {
  local label=$1 transport=$2 address
  if [[ $transport == unix ]]; then
    address="unix:$WORK/echo.sock"
    rm -f "$WORK/echo.sock"
  else
    address="tcp://127.0.0.1:0"
  fi
  local -a argv pin=()
  read -r -a argv <<<"${COMMAND[$label]/ADDR/$address}"
  ((PINNED[$label])) && pin=("${SERVER_PIN[@]}")
  launch_server "${pin[@]}" "${argv[@]}"
}

# A backend that fell back (io_uring refused) is dropped, not measured under the
# wrong name: `sockit echo` says which backend ran ("sockit:   backend epoll, 1 thread").
declare -A SKIPPED
check_backend() {
  local label=$1 want=${BACKEND[$1]} got
  [[ -n $want ]] || return 0
  got=$(reported_backend)
  if [[ -n $got && $got != "$want"* ]]; then
    SKIPPED[$label]="asked for $want, the server ran $got (kernel refused it?)"
    return 1
  fi
  return 0
}

json_text() { tr -d '"\\\n' <"$1" | head -c 400; }

# --- machine -----------------------------------------------------------------------
CPU_MODEL=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
{
  echo "# sockit connection-count sweep ($STAMP)"
  echo
  echo "- kernel: $(uname -r); CPU: ${CPU_MODEL:-unknown} x $NPROC; $(date -u '+%Y-%m-%d %H:%M UTC'); sockit at $(git log -1 --format='%h %s' 2>/dev/null | cut -c1-80)"
  echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- $MESSAGE_SIZE-byte messages; connections: $COUNTS; depths (messages in flight per connection): $DEPTHS; transports: $TRANSPORTS (tcp on 127.0.0.1)"
  echo "- $ROUNDS interleaved rounds of ${WARMUP} s warm-up + ${DURATION} s measured, connecting not timed; $PINNING"
  echo "- load: one echo_load process with --threads $LOAD_THREADS (connections split over the threads, one epoll each)"
  echo "- RTT is a full round trip per message (queued by the load -> echo fully received by the load)"
  echo "- server CPU: utime+stime of all its threads (/proc/PID/stat, 10 ms ticks), sampled by echo_load at the start and end of the measured window; server RSS: VmRSS at the end of the window, all connections open"
} | tee "$REPORT"

# --- rounds -------------------------------------------------------------------------
declare -A FAILED  # "label|cell" -> 1: a cell that failed once is not retried
echo >&2
for round in $(seq "$ROUNDS"); do
  nservers=${#SERVERS[@]}
  for cell in "${CELLS[@]}"; do
    read -r transport depth count <<<"$cell"
    for ((i = 0; i < nservers; i++)); do
      label=${SERVERS[$(((i + round - 1) % nservers))]}
      [[ -z ${SKIPPED[$label]:-} && -z ${FAILED["$label|$cell"]:-} ]] || continue
      server_fits "$label" "$count" || continue
      printf 'bench-scale: round %s/%s %-4s depth %-2s %5s conns %-19s ' \
        "$round" "$ROUNDS" "$transport" "$depth" "$count" "$label" >&2
      if ! start_server "$label" "$transport"; then
        SKIPPED[$label]="did not start: $(head -c 300 "$WORK/server.err" | tr '\n' ' ')"
        echo "did not start" >&2
        continue
      fi
      load_pin=()
      ((PINNED[$label])) && load_pin=("${LOAD_PIN[@]}")
      set +e
      timeout --kill-after=2 "$RUN_TIMEOUT" \
        "${load_pin[@]}" "$LOAD" --address "$SERVER_ADDR" --server-pid "$SERVER_PID" \
        --connections "$count" --pipeline "$depth" --message-size "$MESSAGE_SIZE" \
        --threads "$LOAD_THREADS" --connect-timeout-seconds "$CONNECT_TIMEOUT" \
        --duration-seconds "$DURATION" --warmup-seconds "$WARMUP" >"$WORK/load.out" 2>"$WORK/load.err"
      status=$?
      set -e
      stop_server
      if ! check_backend "$label"; then
        echo "skipped: ${SKIPPED[$label]}" >&2
        continue
      fi
      common=$(printf '"kind":"scale","server":"%s","transport":"%s","depth":%s,"connections":%s,"round":%s,"pinned":%s' \
        "$label" "$transport" "$depth" "$count" "$round" "$( ((PINNED[$label])) && echo true || echo false)")
      if ((status != 0)); then
        ((status == 124 || status == 137)) && echo "timed out" >>"$WORK/load.err"
        echo "FAILED: $(cat "$WORK/load.err")" >&2
        printf '{%s,"error":"%s"}\n' "$common" "$(json_text "$WORK/load.err")" >>"$RAW"
        FAILED["$label|$cell"]=1
        continue
      fi
      printf '{%s,"load":%s}\n' "$common" "$(cat "$WORK/load.out")" >>"$RAW"
      sed -n 's/.*"msgs_per_s":\([0-9]*\).*/\1 msgs\/s/p' "$WORK/load.out" >&2
    done
  done
done

# --- report ----------------------------------------------------------------------------
for label in "${!SKIPPED[@]}"; do note "$label skipped: ${SKIPPED[$label]}"; done
python3 - "$RAW" "$LOAD_THREADS" "${SERVERS[@]}" <<'EOF' | tee -a "$REPORT"
import json, statistics, sys
raw, load_threads, order = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
rows = [json.loads(line) for line in open(raw)]
ok = [r for r in rows if "load" in r]
failed = [r for r in rows if "error" in r]
med = statistics.median
cells = sorted({(r["transport"], r["depth"]) for r in rows}, key=lambda c: (c[0] != "unix", c[1]))
counts = sorted({r["connections"] for r in rows})
LOAD_BOUND = 0.95  # load CPU share of its threads above which the figure is the load's

def runs(server, transport, depth, count):
    return [r for r in ok if (r["server"], r["transport"], r["depth"], r["connections"]) == (server, transport, depth, count)]

def ratios(rs, base):
    """Each round's msgs/s over the base server's in the same round and cell."""
    by_round = {r["round"]: r["load"]["msgs_per_s"] for r in base}
    return [r["load"]["msgs_per_s"] / by_round[r["round"]] for r in rs if by_round.get(r["round"])]

def per_cpu(r):
    cpu = r["load"].get("server_cpu_window", 0)
    return r["load"]["msgs_per_s"] / cpu if cpu > 0 else None

load_bound_cells = 0
if not ok:
    print("\nNo run completed.")
for transport, depth in cells:
    print(f"\n## {transport}, depth {depth}: msgs/s by connections (median of rounds)\n")
    print("| server | " + " | ".join(f"{c:,}" for c in counts) + f" | {counts[-1]:,} / {counts[0]:,} |")
    print("|---|" + "---|" * (len(counts) + 1))
    for server in order:
        meds = {c: med(r["load"]["msgs_per_s"] for r in rs) for c in counts if (rs := runs(server, transport, depth, c))}
        if not meds:
            continue
        held = f"{meds[counts[-1]] / meds[counts[0]]:.2f}" if counts[0] in meds and counts[-1] in meds else ""
        print(f"| {server} | " + " | ".join(f"{meds[c]:,.0f}" if c in meds else "–" for c in counts) + f" | {held} |")
    print(f"\n### {transport}, depth {depth}: every cell\n")
    print("| server | conns | rounds | msgs/s | vs c-epoll (min–max) | vs c-uring | msgs per server CPU-s | server CPU | p50 RTT µs | p99 RTT µs | server RSS KiB | silent conns | load CPU |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for count in counts:
        base_epoll = runs("c-epoll", transport, depth, count)
        base_uring = runs("c-uring", transport, depth, count)
        for server in order:
            rs = runs(server, transport, depth, count)
            if not rs:
                continue
            m = med(r["load"]["msgs_per_s"] for r in rs)
            re = ratios(rs, base_epoll)
            vs_epoll = f"{med(re):.2f}x ({min(re):.2f}–{max(re):.2f})" if re and server != "c-epoll" else ("1.00x" if server == "c-epoll" else "n/a")
            ru = ratios(rs, base_uring)
            vs_uring = f"{med(ru):.2f}x" if ru and server != "c-uring" else ("1.00x" if server == "c-uring" else "n/a")
            effs = [e for r in rs if (e := per_cpu(r)) is not None]
            eff = f"{med(effs):,.0f}" if effs else "n/a"
            cpu = med(r["load"].get("server_cpu_window", float("nan")) for r in rs)
            p50 = med(r["load"]["rtt_p50_us"] for r in rs)
            p99 = med(r["load"]["rtt_p99_us"] for r in rs)
            rss = med(r["load"].get("server_vmrss_kib", -1) for r in rs)
            silent = med(r["load"]["connections_silent_in_window"] for r in rs)
            load = med(r["load"]["load_cpu_window"] / r["load"]["threads"] for r in rs)
            mark = ""
            if load >= LOAD_BOUND:
                mark = " ⚠"
                load_bound_cells += 1
            print(f"| {server} | {count:,} | {len(rs)} | {m:,.0f} | {vs_epoll} | {vs_uring} | {eff} | {cpu:.0%} | "
                  f"{p50:,.0f} | {p99:,.0f} | {rss:,.0f} | {silent:,.0f} | {load:.0%}{mark} |")
print(f"\nLoad CPU is the load's CPU time over the measured window per load thread ({load_threads}); "
      f"⚠ marks cells where it was ≥ {LOAD_BOUND:.0%}: there the load, not the server, may set msgs/s "
      f"({load_bound_cells} cells). Ratios are medians of per-round ratios (same round, same cell). "
      "Silent conns: connections that got no echo at all inside the measured window (a server starving them).")
if failed:
    print("\nFailed runs (not retried in later rounds):\n")
    for r in failed:
        print(f'- {r["server"]}, {r["transport"]}, depth {r["depth"]}, {r["connections"]:,} connections, round {r["round"]}: {r["error"]}')
EOF
if ((${#NOTES[@]} > 0)); then
  { echo; for note in "${NOTES[@]}"; do echo "- $note"; done; } | tee -a "$REPORT"
fi

# --- pictures -----------------------------------------------------------------------------
# The full sweep draws into docs/ (the pictures BENCHMARKS.md shows); a partial
# one beside its report, so a quick run never replaces them.
full=0
[[ $COUNTS == "$DEFAULT_COUNTS" && $DEPTHS == "$DEFAULT_DEPTHS" && $TRANSPORTS == "$DEFAULT_TRANSPORTS" &&
  $WANTED_SERVERS == "$DEFAULT_SERVERS" ]] && full=1
if [[ -n ${BENCH_SCALE_PLOT_DIR:-} ]]; then
  PLOT_DIR=$BENCH_SCALE_PLOT_DIR PLOT_PREFIX=bench-scale
elif ((full)); then
  PLOT_DIR=docs PLOT_PREFIX=bench-scale
else
  PLOT_DIR=$OUT_DIR PLOT_PREFIX=scale-$STAMP
fi
PLOT_FORMAT=${BENCH_SCALE_PLOT_FORMAT:-svg}
[[ $PLOT_FORMAT == svg || $PLOT_FORMAT == png ]] || { echo "bench-scale: BENCH_SCALE_PLOT_FORMAT must be svg or png" >&2; PLOT_FORMAT=svg; }
if ! command -v gnuplot >/dev/null; then
  scripts/install-deps.sh gnuplot-nox >&2 || true
fi
if ! grep -q '"load":' "$RAW"; then
  echo "bench-scale: no run completed, no pictures" >&2
elif command -v gnuplot >/dev/null; then
  mkdir -p "$PLOT_DIR"
  python3 - "$RAW" "$PLOT_DIR/$PLOT_PREFIX" "$PLOT_FORMAT" "$STAMP" "$MESSAGE_SIZE" "${SERVERS[@]}" >"$WORK/plot.gp" <<'EOF'
import json, statistics, sys
raw, out, fmt, stamp, size, order = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6:]
ok = [r for r in map(json.loads, open(raw)) if "load" in r]
counts = sorted({r["connections"] for r in ok})
if fmt == "png":
    print("set terminal pngcairo noenhanced size 1000,620 font 'sans,11'")
else:
    print("set terminal svg noenhanced size 900,560 dynamic font 'sans,12'")
print("set logscale x; set grid; set key outside right top")
tics = ", ".join(f"'{c:,}' {c}" for c in counts)
print(f"set xtics ({tics}); set xrange [{counts[0] / 1.4}:{counts[-1] * 1.4}]")
print("set xlabel 'connections (log scale)'; set ylabel 'echoed messages/s, millions (median of rounds)'")
print("set yrange [0:*]")
for transport, depth in sorted({(r["transport"], r["depth"]) for r in ok}):
    lines = []
    for server in order:
        pts = []
        for c in counts:
            rs = [r["load"]["msgs_per_s"] for r in ok if (r["server"], r["transport"], r["depth"], r["connections"]) == (server, transport, depth, c)]
            if rs:
                pts.append((c, statistics.median(rs)))
        if pts:
            lines.append((server, pts))
    if not lines:
        continue
    print(f"set output '{out}-{transport}-d{depth}.{fmt}'")
    print(f"set title '{transport}, {depth} in flight per connection, {size}-byte messages ({stamp})'")
    for i, (server, pts) in enumerate(lines):
        print(f"$d{i} << EOD")
        for c, m in pts:
            print(f"{c} {m:.0f}")
        print("EOD")
    # The floors and peers dashed, sockit's rows solid and thicker.
    style = lambda s: "lw 2 dt 1" if s.startswith("sockit") else "lw 1 dt 2"
    print("plot " + ", ".join(f"$d{i} using 1:($2/1e6) with linespoints lt {i + 1} {style(s)} title '{s}'"
                              for i, (s, _) in enumerate(lines)))
EOF
  if gnuplot "$WORK/plot.gp" 2>"$WORK/plot.err"; then
    echo "bench-scale: pictures in $PLOT_DIR/$PLOT_PREFIX-*.$PLOT_FORMAT" >&2
  else
    echo "bench-scale: gnuplot failed: $(cat "$WORK/plot.err")" >&2
  fi
else
  echo "bench-scale: no gnuplot (Debian: gnuplot-nox), no pictures" >&2
fi
cp "$REPORT" "$OUT_DIR/scale-latest.md"
echo >&2
echo "bench-scale: report in $REPORT (raw results: $RAW)" >&2
