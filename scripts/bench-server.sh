# shellcheck shell=bash
# Sourced by the bench scripts (bench-echo.sh, bench-scale.sh): runs one echo server
# at a time. Every server measured (sockit echo, the C floors, the Asio and libuv
# peers) prints "sockit: listening on ADDR" on stderr once bound, with the real port.
# Uses the caller's $WORK; sets SERVER_PID and SERVER_ADDR.

# launch_server COMMAND...: starts it in the background with stderr in
# $WORK/server.err and waits (5 s at most) for its listening line. Returns 1, the
# server stopped and its stderr kept, if it never says it listens.
launch_server() {
  # The previous server's "listening on" line must not be read before this server's
  # redirect truncates the file (a stale TCP port: connection refused).
  rm -f "$WORK/server.err"
  "$@" 2>"$WORK/server.err" >/dev/null &
  SERVER_PID=$!
  SERVER_ADDR=""
  for _ in $(seq 100); do
    SERVER_ADDR=$(sed -n 's/^sockit: listening on //p' "$WORK/server.err" 2>/dev/null | head -1)
    [[ -n $SERVER_ADDR ]] && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.05
  done
  stop_server
  return 1
}

# stop_server: SIGTERM, then SIGKILL after 5 s; the server's stderr stays in $WORK/server.err.
stop_server() {
  [[ -n ${SERVER_PID:-} ]] || return 0
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  for _ in $(seq 100); do
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.05
  done
  kill -KILL "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}

# The backend a stopped `sockit echo` says it ran ("sockit:   backend epoll, 1 thread").
reported_backend() { sed -n 's/^sockit: *backend \([^,]*\),.*/\1/p' "$WORK/server.err" | head -1; }
