#!/usr/bin/env bash
# The `make demo` job: runs `sockit echo` and talks to it with `sockit connect`
# over a Unix socket, TCP and UDP, showing every command and what came back.
#
#   scripts/demo.sh PATH/TO/sockit
#
# Exits 0 when every exchange came back exactly as sent and the servers stopped
# cleanly, 1 otherwise (2 for a bad argument). Every wait is bounded, and the
# temporary directory and any server still running are cleaned up on exit.
set -u

SOCKIT=${1:-}
if [[ -z "$SOCKIT" || ! -x "$SOCKIT" ]]; then
  echo "usage: $0 PATH/TO/sockit   (the built binary, e.g. build/release/tools/sockit/sockit)" >&2
  exit 2
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sockit-demo-XXXX") || exit 1
SERVER_PID=""
FAILURES=0
CHECKS=0

# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -KILL "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'echo; echo "demo: interrupted"; exit 130' INT TERM

if [[ -t 1 ]]; then
  BOLD=$'\e[1m' GREEN=$'\e[32m' RED=$'\e[31m' RESET=$'\e[0m'
else
  BOLD="" GREEN="" RED="" RESET=""
fi

heading() { printf '\n%s== %s%s\n' "$BOLD" "$*" "$RESET"; }
command_line() { printf '%s$ %s%s\n' "$BOLD" "$*" "$RESET"; }
detail() { printf '    %s\n' "$*"; }
ok() { CHECKS=$((CHECKS + 1)); printf '    %sOK%s  %s\n' "$GREEN" "$RESET" "$*"; }
failed() { CHECKS=$((CHECKS + 1)); FAILURES=$((FAILURES + 1)); printf '    %sFAILED%s  %s\n' "$RED" "$RESET" "$*"; }

# Waits (up to $2 tenths of a second) until process $1 has exited; 0 if it has.
wait_for_exit() {
  local pid=$1 tenths=$2
  for ((i = 0; i < tenths; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  return 1
}

# start_server ADDR: runs `sockit echo ADDR` in the background and waits (5 s at most)
# for its "listening on" line, which carries the real port when ADDR asked for port 0.
# Sets SERVER_PID and LISTEN_ADDRESS.
start_server() {
  local address=$1
  : >"$WORK/server.err"
  command_line "sockit echo $address &"
  "$SOCKIT" echo "$address" 2>"$WORK/server.err" &
  SERVER_PID=$!
  LISTEN_ADDRESS=""
  for ((i = 0; i < 50; i++)); do
    LISTEN_ADDRESS=$(sed -n 's/^sockit: listening on //p' "$WORK/server.err")
    [[ -n "$LISTEN_ADDRESS" ]] && break
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  if [[ -z "$LISTEN_ADDRESS" ]]; then
    failed "the server did not start:"
    sed 's/^/      /' "$WORK/server.err"
    return 1
  fi
  detail "server says: sockit: listening on $LISTEN_ADDRESS"
}

# exchange ADDR [connect options...]: pipes a few lines through `sockit connect` and
# compares what came back with what went out.
exchange() {
  local address=$1
  shift
  local input
  input=$(printf 'hello from the sockit demo\nsecond line: %s\nthird line, the last\n' "$address")
  command_line "printf '...3 lines...' | sockit connect $address${*:+ $*}"
  local output status
  output=$(printf '%s\n' "$input" | timeout 15 "$SOCKIT" connect "$address" "$@" 2>"$WORK/client.err")
  status=$?
  while IFS= read -r line; do detail "sent:     $line"; done <<<"$input"
  if [[ -n "$output" ]]; then
    while IFS= read -r line; do detail "received: $line"; done <<<"$output"
  else
    detail "received: (nothing)"
  fi
  if [[ $status -eq 0 && "$output" == "$input" ]]; then
    ok "all 3 lines came back unchanged (connect exit status 0)"
  else
    failed "connect exit status $status; the echo does not match what was sent"
    [[ -s "$WORK/client.err" ]] && sed 's/^/      client stderr: /' "$WORK/client.err"
  fi
}

# stop_server [SOCKET_PATH]: SIGINT, then the server's summary; checks the clean exit
# and, for a Unix path, that the socket file is gone.
stop_server() {
  local path=${1:-}
  command_line "kill -INT $SERVER_PID"
  kill -INT "$SERVER_PID" 2>/dev/null
  if ! wait_for_exit "$SERVER_PID" 50; then
    failed "the server did not stop within 5 s after SIGINT"
    kill -KILL "$SERVER_PID" 2>/dev/null
  fi
  wait "$SERVER_PID" 2>/dev/null
  local status=$?
  SERVER_PID=""
  local summary
  summary=$(grep '^sockit: echo stopped' "$WORK/server.err")
  detail "server says: ${summary:-(no summary)}"
  if [[ $status -eq 0 ]]; then ok "server exited with status 0"; else failed "server exit status $status"; fi
  if [[ -n "$path" ]]; then
    if [[ -e "$path" ]]; then failed "socket file $path was left behind"; else ok "socket file removed"; fi
  fi
}

heading "sockit demo: an echo server and its client over Unix, TCP and UDP"
detail "sockit = $SOCKIT"
detail "scratch directory: $WORK (removed at the end)"

heading "1. Unix stream socket (a file in the scratch directory)"
SOCKET_PATH="$WORK/echo.sock"
if start_server "unix:$SOCKET_PATH"; then
  exchange "$LISTEN_ADDRESS"
  stop_server "$SOCKET_PATH"
fi

heading "2. TCP on 127.0.0.1, port 0 (the kernel picks a free port)"
if start_server "tcp://127.0.0.1:0"; then
  exchange "$LISTEN_ADDRESS"
  stop_server
fi

heading "3. UDP on 127.0.0.1, port 0 (each stdin read is one datagram)"
if start_server "udp://127.0.0.1:0"; then
  exchange "$LISTEN_ADDRESS" --wait 0.5
  stop_server
fi

heading "4. What an error looks like (nothing listens on this path)"
command_line "echo hi | sockit connect unix:$WORK/nobody.sock"
error_output=$(echo hi | timeout 15 "$SOCKIT" connect "unix:$WORK/nobody.sock" 2>&1)
error_status=$?
detail "$error_output"
if [[ $error_status -eq 1 ]]; then ok "one line naming the address and the cause, exit status 1"; else failed "exit status $error_status, expected 1"; fi

echo
if [[ $FAILURES -eq 0 ]]; then
  printf '%sdemo: all %d checks passed%s\n' "$GREEN$BOLD" "$CHECKS" "$RESET"
  exit 0
fi
printf '%sdemo: %d of %d checks FAILED%s\n' "$RED$BOLD" "$FAILURES" "$CHECKS" "$RESET"
exit 1
