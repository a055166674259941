# Shared by the server tests: start dsv32-server on a free loopback port,
# wait for it, and stop it when the test exits, whatever way it exits.
# Usage: source server_common.sh; start_server LOG ARGS...; then $BASE is
# its URL.

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

SERVER_PID=""
SERVER_LOG=""
SERVER_STATUS=""
stop_server() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_STATUS=0
  wait "$SERVER_PID" 2>/dev/null || SERVER_STATUS=$?
  SERVER_PID=""
}

# finish_server: stops the server and fails unless it shut down cleanly
# (exit status 0, no sanitizer report).
finish_server() {
  stop_server
  if [[ "$SERVER_STATUS" != 0 ]] || grep -q -E 'Sanitizer|runtime error:' "$SERVER_LOG"; then
    tail -n 60 "$SERVER_LOG" >&2
    fail "the server did not shut down cleanly (exit status $SERVER_STATUS)"
  fi
  echo "ok: the server shut down cleanly"
}
trap stop_server EXIT

# start_server LOG SERVER_BIN ARGS...: --port 0 makes the server take a free
# port and print it.
start_server() {
  local log="$1"
  SERVER_LOG="$log"
  shift
  # The log exists before the server starts: the background redirect opens it
  # only once the child runs, and the wait below may read it first.
  : > "$log"
  "$@" --host 127.0.0.1 --port 0 >> "$log" 2>&1 &
  SERVER_PID=$!
  local port=""
  for _ in $(seq 1 600); do
    port="$(sed -n 's|.*on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$log" | head -n 1)"
    [[ -n "$port" ]] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$log" >&2; fail "the server exited"; }
    sleep 0.1
  done
  [[ -n "$port" ]] || { cat "$log" >&2; fail "the server did not start in 60 s"; }
  BASE="http://127.0.0.1:$port"
}
