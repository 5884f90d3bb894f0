#!/usr/bin/env bats
# The queue of waiters (docs/DESIGN.md "Hand-off"): a release hands the key to the session that
# has waited longest and still waits, in the release's own transaction. Straight to the server
# only: behind PgBouncer nothing is queued (core.bats checks that).
load ../../lib/common
load pg
bats_require_minimum_version 1.5.0

setup() { pg_setup; }

teardown() {
  # No waiter outlives its test.
  jobs -p | xargs -r kill -9 2>/dev/null || true
  wait 2>/dev/null || true
}

# bsup_as in the background, as one process: $! is bsup itself, for kill -9.
bsup_as_bg() {
  local who=$1
  shift
  (BSUP_STATE_FILE="$BATS_TEST_TMPDIR/state-$who/state.json" exec "$BSUP" "$@") &
}

queued() {
  pg "select count(*) from blacksmith_supervisor.bsup_waiters where key = '$1'"
}

holder() {
  pg "select coalesce(session_id, '-') from blacksmith_supervisor.locks where key = '$1'"
}

# Waits (up to 10 s) until `n` sessions wait in the queue of key $1.
until_queued() {
  for _ in $(seq 200); do
    [ "$(queued "$1")" -ge "$2" ] && return 0
    sleep 0.05
  done
  echo "never $2 waiters in the queue of $1" >&2
  return 1
}

# Waits (up to 10 s) until the key $1 is held by the session $2.
until_held_by() {
  for _ in $(seq 200); do
    [ "$(holder "$1")" = "$2" ] && return 0
    sleep 0.05
  done
  echo "$1 is held by $(holder "$1"), not $2" >&2
  return 1
}

@test "waiters get the key in the order they came, each in the transaction of the release before" {
  k=$(key)
  bsup_as a lock "$k"
  bsup_as b lock "$k" --wait 60s &
  until_queued "$k" 1
  bsup_as c lock "$k" --wait 60s &
  until_queued "$k" 2
  bsup_as a unlock "$k"
  until_held_by "$k" "$(session_of b)"
  [ "$(queued "$k")" -eq 1 ] # c still waits
  bsup_as b unlock "$k"
  until_held_by "$k" "$(session_of c)"
  [ "$(queued "$k")" -eq 0 ]
  # Each release and the grant after it have one transaction time: one commit.
  run pg "select event, session_id, at = lag(at) over (order by id)
          from blacksmith_supervisor.bsup_events where key = '$k' order by id"
  [ "${lines[1]}" = "release|$(session_of a)|f" ]
  [ "${lines[2]}" = "grant|$(session_of b)|t" ]
  [ "${lines[3]}" = "release|$(session_of b)|f" ]
  [ "${lines[4]}" = "grant|$(session_of c)|t" ]
  # Fencing tokens still grow with every grant.
  run pg "select lock_index from blacksmith_supervisor.bsup_events
          where key = '$k' and event = 'grant' order by id"
  [ "${lines[0]}" -lt "${lines[1]}" ] && [ "${lines[1]}" -lt "${lines[2]}" ]
}

@test "a waiter killed with SIGKILL loses its place: the next one gets the key, or nobody" {
  k=$(key)
  bsup_as a lock "$k"
  bsup_as_bg b lock "$k" --wait 60s
  killed=$!
  until_queued "$k" 1
  kill -9 "$killed"
  bsup_as c lock "$k" --wait 60s &
  until_queued "$k" 2
  bsup_as a unlock "$k"
  until_held_by "$k" "$(session_of c)"
  [ "$(queued "$k")" -eq 0 ] # the dead waiter's entry went too
  # Killed while queued alone: the release frees the key.
  bsup_as_bg d lock "$k" --wait 60s
  killed=$!
  until_queued "$k" 1
  kill -9 "$killed"
  bsup_as c unlock "$k"
  [ "$(holder "$k")" = "-" ]
  run bsup status -e "$k"
  [ "$status" -eq 1 ]
}

@test "a waiter that gives up at its deadline leaves the queue; the release frees the key" {
  k=$(key)
  bsup_as a lock "$k"
  run bsup_as b lock "$k" --wait 1s
  [ "$status" -eq 1 ]
  [ "$(queued "$k")" -eq 0 ]
  bsup_as a unlock "$k"
  [ "$(holder "$k")" = "-" ]
}

@test "unlock --force and deregister hand their keys to the first waiter" {
  k=$(key)
  other=$(key other)
  bsup_as a register --name holder
  bsup_as a lock "$k"
  bsup_as a lock "$other"
  bsup_as b lock "$k" --wait 60s &
  until_queued "$k" 1
  bsup_as a deregister
  until_held_by "$k" "$(session_of b)"
  [ "$(holder "$other")" = "-" ] # no waiter: free
  bsup_as c lock "$k" --wait 60s &
  until_queued "$k" 1
  run bsup unlock --force "$k" --reason "stuck"
  [ "$status" -eq 0 ]
  until_held_by "$k" "$(session_of c)"
  run pg "select event, reason from blacksmith_supervisor.bsup_events where key = '$k'
          order by id desc limit 2"
  [ "${lines[0]}" = "grant|" ]
  [ "${lines[1]}" = "force|stuck" ]
}

# Registers a session for `who` and queues it for key $1 as bsup does, from psql, which holds
# the entry's advisory lock for 60 s (in the background); returns once the entry is there.
queue_from_psql() {
  local k=$1 who=$2
  bsup_as "$who" register --ttl 10m
  psql -X -q -h 127.0.0.1 -p "$BSUP_PG_PORT" -U postgres -d postgres >/dev/null <<SQL &
WITH t AS (INSERT INTO blacksmith_supervisor.bsup_waiters (key, session_id)
           VALUES ('$k', '$(session_of "$who")') RETURNING ticket)
SELECT pg_advisory_lock(1651733872, (ticket % 2147483647)::int) FROM t;
SELECT pg_sleep(60);
SQL
  until_queued "$k" 1
}

# Makes the session of `who` lapse, on the server's clock.
lapse() {
  pg "update blacksmith_supervisor.bsup_sessions set expires_at = now() - interval '1 second'
      where id = '$(session_of "$1")'"
}

@test "an entry counts while its connection holds the advisory lock and its session lives" {
  k=$(key)
  bsup_as a lock "$k"
  queue_from_psql "$k" b
  bsup_as a unlock "$k"
  [ "$(holder "$k")" = "$(session_of b)" ]
  # The same with the waiter's session lapsed: passed over, and the key goes free.
  bsup_as b unlock "$k"
  bsup_as a lock "$k"
  queue_from_psql "$k" c
  lapse c
  bsup_as a unlock "$k"
  [ "$(holder "$k")" = "-" ]
  [ "$(queued "$k")" -eq 0 ]
}

@test "a new session drops the places of lapsed sessions from every queue" {
  k=$(key)
  bsup_as a lock "$k"
  queue_from_psql "$k" b
  lapse b
  bsup_as c register
  [ "$(queued "$k")" -eq 0 ]
  [ "$(holder "$k")" = "$(session_of a)" ]
}
