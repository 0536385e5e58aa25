# Waiting on a condition with a deadline, for the bash tests (sourced).
#
#   wait_until SECONDS WHAT COMMAND...
#       runs COMMAND (a function or program) until it succeeds; after
#       SECONDS it reports "timed out ... waiting for WHAT" through the
#       caller's fail() when there is one, else on stderr, and returns 1
#   wait_exit PID SECONDS
#       returns once process PID has ended (no polling of our own: tail
#       --pid), or 1 when it still runs after SECONDS

wait_until() {
  local limit=$1 what=$2
  local deadline=$((SECONDS + limit))
  shift 2
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      if declare -F fail >/dev/null; then fail "timed out after ${limit}s waiting for $what"; fi
      echo "FAIL: timed out after ${limit}s waiting for $what" >&2
      return 1
    fi
    sleep 0.2  # the poll interval; the deadline above bounds the wait
  done
}

wait_exit() {
  timeout "$2" tail --pid="$1" -s 0.1 -f /dev/null
}
