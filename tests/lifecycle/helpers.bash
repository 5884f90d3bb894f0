# Helpers of the lifecycle suites (tests/lifecycle/*.bats: --wait, bsup run, --keepalive).
#
# These suites are driver-agnostic: they run against whatever backend the environment names.
# With BSUP_CONNECTION unset they use the embedded sqlite default (each test has its own
# XDG_STATE_HOME, so its own database); the postgres and consul integration scripts run this same
# folder with BSUP_CONNECTION set to their server. Keys are unique per test, so that tests sharing
# one server never see each other's locks. LIFE_TTL is the short session TTL the tests use
# (default 3s; Consul's minimum is 10s, so its suite sets LIFE_TTL=10s). BSUP_MIN_TTL lowers
# bsup's own 10s floor for tests. LIFE_LOCK_DELAY (default 0s) is how long the backend keeps a
# lapsed holder's key from being taken again: Consul's session lock delay, 15s by default, so the
# consul suite sets LIFE_LOCK_DELAY=15s.
#
#   load ../lib/common
#   load helpers
#   setup() { life_setup; }
#   teardown() { life_teardown; }
#
# K, D, TTL_S, LOCK_DELAY_S and RC are set here for the tests to read.
# shellcheck disable=SC2034

bats_require_minimum_version 1.5.0

: "${LIFE_TTL:=3s}" "${LIFE_LOCK_DELAY:=0s}"
export LIFE_TTL LIFE_LOCK_DELAY
export BSUP_MIN_TTL=1s

life_setup() {
  # common_setup unsets BSUP_CONNECTION so that the e2e suites always use sqlite; here the caller's
  # backend is the point, so keep it.
  local connection=${BSUP_CONNECTION-} had_connection=${BSUP_CONNECTION+set}
  common_setup
  if [[ -n $had_connection ]]; then
    export BSUP_CONNECTION=$connection
  fi
  [[ $LIFE_TTL =~ ^[0-9]+s$ && $LIFE_LOCK_DELAY =~ ^[0-9]+s$ ]] || {
    echo "LIFE_TTL and LIFE_LOCK_DELAY must be whole seconds like 3s or 10s" >&2
    return 1
  }
  TTL_S=${LIFE_TTL%s}
  LOCK_DELAY_S=${LIFE_LOCK_DELAY%s}
  K="life/t${BATS_TEST_NUMBER}-$$-${RANDOM}${RANDOM}/k"
  D=$BATS_TEST_TMPDIR
  : >"$D/pids"
}

life_teardown() {
  local pid state
  # Background processes this test started (bsup waiters, parent shells, churn loops).
  while read -r pid; do
    if [[ -n $pid ]]; then
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done <"$D/pids"
  # Heartbeats of this test's state files (matched by the test's own folder in their command line).
  for pid in $(pgrep -f -- "__keepalive.*--state-file $D/" || true); do
    kill -KILL "$pid" 2>/dev/null || true
  done
  # End every session this test made, so that a shared server is left clean.
  for state in "$D"/state*/state.json; do
    if [[ -e $state ]]; then
      BSUP_STATE_FILE=$state "$BSUP" deregister --force -q >/dev/null 2>&1 || true
    fi
  done
  "$BSUP" unlock --force "$K" -q >/dev/null 2>&1 || true
}

# Remembers a background PID for teardown.
track() { echo "$1" >>"$D/pids"; }

# The state file of a named session, as bsup_as uses it.
state_of() { printf '%s\n' "$BATS_TEST_TMPDIR/state-$1/state.json"; }

# Starts bsup in the background as session $1 (its own state file) with stdout and stderr in
# $D/$1.out and $D/$1.err. bsup itself is the background process (exec), so $! is its PID, and fd 3
# (bats' own) is closed so that bats does not wait for it. Sets BG_PID.
bsup_bg_as() {
  local who=$1
  shift
  (
    export BSUP_STATE_FILE
    BSUP_STATE_FILE=$(state_of "$who")
    exec "$BSUP" "$@" >"$D/$who.out" 2>"$D/$who.err" 3>&-
  ) &
  BG_PID=$!
  track "$BG_PID"
}

fail() {
  printf '%s\n' "$*" >&2
  return 1
}

# jq -e that fails on empty input too, and says what it read.
jqe() {
  local doc
  doc=$(cat)
  [ -n "${doc//[[:space:]]/}" ] || fail "jq $*: no JSON on input"
  jq -e "$@" <<<"$doc" >/dev/null || fail "jq $* is false for: $doc"
}

# Milliseconds since the epoch.
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# A process that runs (a zombie does not count: PID 1 of a container may not reap orphans).
alive() {
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n $state && $state != Z && $state != X ]]
}

# Retries a command every 0.1 s until it succeeds or $1 seconds passed (a bounded poll, not a
# timing assertion).
eventually() {
  local seconds=$1
  shift
  local deadline
  deadline=$(($(now_ms) + seconds * 1000))
  until "$@"; do
    if (($(now_ms) >= deadline)); then
      fail "still failing after ${seconds}s: $*"
      return 1
    fi
    sleep 0.1
  done
}

# wait_exit SECONDS PID: waits for background PID (a child of this shell) to end, at most SECONDS;
# sets RC to its exit status. Fails when it is still running then.
wait_exit() {
  local seconds=$1 pid=$2
  eventually "$seconds" not_alive "$pid" || return 1
  RC=0
  wait "$pid" || RC=$?
}
not_alive() { ! alive "$1"; }

# The key's holder session ID as another session sees it ("" when free).
holder_of() {
  BSUP_STATE_FILE=$(state_of observer) "$BSUP" status "$1" --json |
    jq -r 'if .is_acquired then .session_id else "" end'
}
is_free() { [[ -z $(holder_of "$1") ]]; }
is_held_by() { [[ $(holder_of "$1") == "$2" ]]; }

# The heartbeat (bsup __keepalive) PIDs of a state file.
heartbeats_of() { pgrep -f -- "__keepalive.*--state-file $1( |$)" || true; }
no_heartbeat_of() { [[ -z $(heartbeats_of "$1") ]]; }
