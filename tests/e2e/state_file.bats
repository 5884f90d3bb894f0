#!/usr/bin/env bats
# bats sets $stderr (run --separate-stderr) and $output.
# shellcheck disable=SC2154,SC2174,SC2030,SC2031,SC2016
# The state file: where it lives, what it holds, its modes, and that bsup never overwrites one it
# cannot use (exit 4, the path named, the file unchanged).
load ../lib/common
load helpers

setup() { common_setup; }

# Writes $1 as the state file, with the modes bsup would use.
put_state() {
  mkdir -p -m 700 "$(dirname "$BSUP_STATE_FILE")"
  printf '%s' "$1" >"$BSUP_STATE_FILE"
  chmod 600 "$BSUP_STATE_FILE"
}

# Runs `bsup "$@"` on the current state file and asserts exit 4, the path on stderr, and the file
# unchanged.
assert_refused_unchanged() {
  local sum
  sum=$(checksum "$BSUP_STATE_FILE")
  run --separate-stderr bsup "$@"
  [ "$status" -eq 4 ] || fail "bsup $*: exit $status, expected 4; stderr: $stderr"
  [[ "$stderr" == *"$BSUP_STATE_FILE"* ]] || fail "bsup $*: stderr does not name the path: $stderr"
  # SPEC: "exit 4 with its path and a hint": a second line that says what to do
  [ "$(grep -c . <<<"$stderr")" -ge 2 ] || fail "bsup $*: no hint on stderr: $stderr"
  [ "$(checksum "$BSUP_STATE_FILE")" = "$sum" ] || fail "bsup $*: the state file changed"
}

@test "state file: mode 0600 in a folder of mode 0700" {
  bsup lock k
  [ "$(file_mode "$BSUP_STATE_FILE")" = 600 ]
  [ "$(file_mode "$(dirname "$BSUP_STATE_FILE")")" = 700 ]
}

@test "state file: mode 0600 in 0700 also under a umask of 000" {
  (umask 000 && bsup lock k)
  [ "$(file_mode "$BSUP_STATE_FILE")" = 600 ]
  [ "$(file_mode "$(dirname "$BSUP_STATE_FILE")")" = 700 ]
}

@test "state file: holds format version, driver, endpoint, session, service, TTL, creation time" {
  bsup register --name svc --ttl 1m
  run jq -e '(.version | type == "number") and .driver == "sqlite"
      and (.endpoint | startswith("sqlite:"))
      and (.session_id | length == 27)
      and has("session_handle") and .service.name == "svc"
      and (has("ttl") or has("ttl_ms"))
      and (.created_at | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T"))' "$BSUP_STATE_FILE"
  [ "$status" -eq 0 ] || fail "state file: $(cat "$BSUP_STATE_FILE")"
}

@test "state file: --state-file wins over BSUP_STATE_FILE, which wins over XDG_STATE_HOME" {
  bsup lock k1 --state-file "$BATS_TEST_TMPDIR/flag/s.json"
  [ -f "$BATS_TEST_TMPDIR/flag/s.json" ]
  [ ! -e "$BSUP_STATE_FILE" ]
  bsup lock k2
  [ -f "$BSUP_STATE_FILE" ]
  unset BSUP_STATE_FILE
  bsup lock k3
  [ -f "$XDG_STATE_HOME/bsup/state.json" ]
  unset XDG_STATE_HOME
  bsup lock k4
  [ -f "$HOME/.local/state/bsup/state.json" ]
  # the database stays where XDG_STATE_HOME said only when it is set: each of the last two
  # commands used its own default database
  [ -f "$HOME/.local/state/bsup/bsup.db" ]
}

@test "state file garbled: exit 4, path named, left as it was" {
  put_state 'this is not JSON at all }{'
  assert_refused_unchanged lock k
  assert_refused_unchanged unlock k
  assert_refused_unchanged register
  assert_refused_unchanged renew
  assert_refused_unchanged deregister
}

@test "state file truncated: exit 4, path named, left as it was" {
  bsup lock k
  local full
  full=$(cat "$BSUP_STATE_FILE")
  put_state "${full:0:$((${#full} / 2))}"
  assert_refused_unchanged lock k
  assert_refused_unchanged lock other
  assert_refused_unchanged unlock k
}

@test "state file empty: exit 4, left as it was" {
  put_state ''
  assert_refused_unchanged lock k
}

@test "state file valid JSON with a bad session ID: exit 4, left as it was" {
  bsup lock k
  local doc
  doc=$(jq '.session_id = "not-a-ksuid"' "$BSUP_STATE_FILE")
  put_state "$doc"
  assert_refused_unchanged lock k
}

@test "state file of an unknown format version: exit 4, left as it was" {
  bsup lock k
  local doc
  doc=$(jq '.version = 999' "$BSUP_STATE_FILE")
  put_state "$doc"
  assert_refused_unchanged lock k
}

@test "state file JSON of the wrong shape: exit 4, left as it was" {
  put_state '[1, 2, 3]'
  assert_refused_unchanged lock k
  put_state '{"version": "one"}'
  assert_refused_unchanged lock k
}

@test "state file with mode 0644: exit 4, left as it was" {
  bsup lock k
  chmod 644 "$BSUP_STATE_FILE"
  assert_refused_unchanged lock k
  assert_refused_unchanged unlock k
  [ "$(file_mode "$BSUP_STATE_FILE")" = 644 ]
}

@test "state file that is a folder: exit 4" {
  mkdir -p "$BSUP_STATE_FILE"
  run --separate-stderr bsup lock k
  [ "$status" -eq 4 ]
  [[ "$stderr" == *"$BSUP_STATE_FILE"* ]]
}

@test "state file of another backend: exit 4, path named, left as it was" {
  bsup lock k
  assert_refused_unchanged lock k --connection "sqlite:$BATS_TEST_TMPDIR/other.db"
  assert_refused_unchanged unlock k --connection "sqlite:$BATS_TEST_TMPDIR/other.db"
  assert_refused_unchanged renew --connection "sqlite:$BATS_TEST_TMPDIR/other.db"
  # the default database still holds the lock of the session the file names
  run --separate-stderr bsup status k --json
  echo "$output" | jqe --arg s "$(session_in "$BSUP_STATE_FILE")" \
    '.is_acquired == true and .session_id == $s'
}

@test "state file: the same database named two ways is the same backend" {
  bsup lock k --connection "sqlite:$BATS_TEST_TMPDIR/db/x.db"
  cd "$BATS_TEST_TMPDIR"
  run bsup lock k2 --connection "sqlite:db/../db/x.db"
  [ "$status" -eq 0 ]
  run bsup lock k3 --from sqlite --connection "$BATS_TEST_TMPDIR/db/x.db"
  [ "$status" -eq 0 ]
  run --separate-stderr bsup status --json --connection "sqlite:$BATS_TEST_TMPDIR/db/x.db"
  echo "$output" | jqe --arg s "$(session_in "$BSUP_STATE_FILE")" \
    '(map(.key) | sort) == ["k", "k2", "k3"] and all(.[]; .session_id == $s)' 
}

@test "state file: an unreadable one (no permission) gives exit 4" {
  [ "$(id -u)" -ne 0 ] || skip "root reads files of mode 0000"
  bsup lock k
  chmod 000 "$BSUP_STATE_FILE"
  run bsup lock k
  [ "$status" -eq 4 ]
}

@test "two processes sharing one state file (absent at start) end with one session" {
  local round a b sa sb
  for round in $(seq 5); do
    export BSUP_STATE_FILE="$BATS_TEST_TMPDIR/shared-$round/state.json"
    bsup lock k --json >"$BATS_TEST_TMPDIR/a.$round" &
    a=$!
    bsup lock k --json >"$BATS_TEST_TMPDIR/b.$round" &
    b=$!
    wait "$a" || fail "round $round: first lock exit $?"
    wait "$b" || fail "round $round: second lock exit $?"
    sa=$(jq -r .session_id "$BATS_TEST_TMPDIR/a.$round")
    sb=$(jq -r .session_id "$BATS_TEST_TMPDIR/b.$round")
    [ "${#sa}" -eq 27 ] || fail "round $round: no session: $sa"
    [ "$sa" = "$sb" ] || fail "round $round: two sessions, $sa and $sb"
    [ "$(session_in "$BSUP_STATE_FILE")" = "$sa" ] || fail "round $round: state file names another"
    bsup deregister >/dev/null
  done
}

@test "two processes sharing one state file lock two keys for the one session" {
  bsup lock k1 &
  local a=$!
  bsup lock k2 &
  local b=$!
  wait "$a"
  wait "$b"
  run --separate-stderr bsup status --json
  echo "$output" | jqe --arg s "$(session_in "$BSUP_STATE_FILE")" \
    'length == 2 and all(.[]; .session_id == $s)'
}

@test "no temporary files are left beside the state file" {
  bsup lock k
  bsup unlock k
  bsup register
  run bash -c 'ls -A "$(dirname "$BSUP_STATE_FILE")" | grep -v -e "^state.json$" -e "^state.json.lock$"'
  [ -z "$output" ] || fail "left over: $output"
}
