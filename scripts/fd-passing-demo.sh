#!/usr/bin/env bash
# Descriptor passing with `sockit send-fd` / `sockit recv-fd`: a process hands an
# open file to another process that cannot open it by its path, and that process
# reads it anyway: what it holds is the open file, with the sender's access.
#
#   scripts/fd-passing-demo.sh PATH/TO/sockit
#
# As root the receiver runs as the user nobody (setpriv) and the file is root's,
# mode 0600. Otherwise the sender opens the file and deletes it before the
# receiver starts: there is no path left to open. Exits 0 when the receiver could
# not open the path and still printed the content, 1 otherwise, 2 for a bad argument.
# Every wait is bounded; the temporary directory and the receiver are cleaned up.
set -u

SOCKIT=${1:-}
if [[ -z "$SOCKIT" || ! -x "$SOCKIT" ]]; then
  echo "usage: $0 PATH/TO/sockit   (the built binary, e.g. build/release/tools/sockit/sockit)" >&2
  exit 2
fi
SOCKIT=$(realpath "$SOCKIT")

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sockit-fd-demo-XXXX") || exit 1
RECEIVER_PID=""
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  if [[ -n "$RECEIVER_PID" ]] && kill -0 "$RECEIVER_PID" 2>/dev/null; then
    kill -KILL "$RECEIVER_PID" 2>/dev/null
    wait "$RECEIVER_PID" 2>/dev/null
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

SECRET="$WORK/secret.txt"
SOCKET="$WORK/rx/fds.sock"
echo "the secret is 42" >"$SECRET"
chmod 0600 "$SECRET"
mkdir "$WORK/rx"

AS_OTHER=()
if [[ $(id -u) -eq 0 ]] && command -v setpriv >/dev/null && id nobody >/dev/null 2>&1; then
  chmod 0711 "$WORK"                  # nobody may pass through, not list or read
  chown nobody "$WORK/rx"            # and may create its socket here
  AS_OTHER=(setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups)
  echo "# the receiver runs as nobody; $SECRET is root's, mode 0600"
else
  exec 3<"$SECRET"                    # the sender's open file...
  rm "$SECRET"                        # ...outlives its name
  echo "# not root: the sender opened $SECRET and deleted it"
fi
RECEIVER_SOCKIT=$SOCKIT
if [[ ${#AS_OTHER[@]} -gt 0 ]] && ! "${AS_OTHER[@]}" test -x "$SOCKIT"; then
  # A build under /root (mode 0700) is out of nobody's reach: the receiver runs a copy.
  cp "$SOCKIT" "$WORK/sockit" && chmod 0755 "$WORK/sockit" || exit 1
  RECEIVER_SOCKIT="$WORK/sockit"
fi

echo "\$ ${AS_OTHER[*]} cat $SECRET"
if "${AS_OTHER[@]}" cat "$SECRET" 2>&1; then
  echo "FAIL: the receiver could open the file by its path; nothing to demonstrate" >&2
  exit 1
fi

echo "\$ ${AS_OTHER[*]} sockit recv-fd unix:$SOCKET --cat &"
"${AS_OTHER[@]}" "$RECEIVER_SOCKIT" recv-fd "unix:$SOCKET" --cat >"$WORK/received" 2>"$WORK/receiver.err" 3<&- &
RECEIVER_PID=$!
for _ in $(seq 100); do   # 5 s at most for "listening on"
  grep -q "listening on" "$WORK/receiver.err" && break
  sleep 0.05
done
if ! grep -q "listening on" "$WORK/receiver.err"; then
  echo "FAIL: the receiver did not start:" >&2
  cat "$WORK/receiver.err" >&2
  exit 1
fi

if [[ ${#AS_OTHER[@]} -gt 0 ]]; then
  echo "\$ sockit send-fd unix:$SOCKET $SECRET"
  "$SOCKIT" send-fd "unix:$SOCKET" "$SECRET" || exit 1
else
  echo "\$ sockit send-fd unix:$SOCKET - <&3     # fd 3: the deleted file"
  "$SOCKIT" send-fd "unix:$SOCKET" - <&3 || exit 1
fi

for _ in $(seq 100); do   # 5 s at most for the receiver to finish
  kill -0 "$RECEIVER_PID" 2>/dev/null || break
  sleep 0.05
done
if kill -0 "$RECEIVER_PID" 2>/dev/null; then
  echo "FAIL: the receiver did not finish within 5 s" >&2
  exit 1   # the EXIT trap kills it
fi
wait "$RECEIVER_PID"
STATUS=$?
RECEIVER_PID=""
cat "$WORK/receiver.err"
echo "# the receiver printed:"
cat "$WORK/received"
if [[ $STATUS -ne 0 || "$(cat "$WORK/received")" != "the secret is 42" ]]; then
  echo "FAIL: recv-fd exited $STATUS" >&2
  exit 1
fi
echo "# OK: the receiver read a file it could not open"
