#!/usr/bin/env bats
# The postgres driver end to end: every subcommand and exit code, the rows checked with psql.
# Also run through PgBouncer in transaction mode (tests/integration/pgbouncer.sh).
load ../../lib/common
load pg
bats_require_minimum_version 1.5.0

setup() { pg_setup; }

@test "lock leaves a Blacksmith row: is_acquired, a 27-character session_id, the acquirer" {
  k=$(key)
  run bsup_as a lock "$k"
  [ "$status" -eq 0 ]
  run pg "select is_acquired, length(session_id), acquirer_name from blacksmith_supervisor.locks where key = '$k'"
  [ "$output" = "t|27|bsup" ]
  [ "$(pg "select session_id from blacksmith_supervisor.locks where key = '$k'")" = "$(session_of a)" ]
  run bsup_as a status "$k" --json
  [ "$status" -eq 0 ]
  echo "$output" | jq -e --arg s "$(session_of a)" \
    '.is_acquired == true and .session_id == $s and .acquirer_name == "bsup" and .lock_index >= 1
     and (.acquired_at | test("Z$")) and (.expires_at | test("Z$"))'
}

@test "another session cannot lock a held key; the holder locks it again and nothing changes" {
  k=$(key)
  bsup_as a lock "$k"
  index=$(bsup_as a status "$k" --json | jq .lock_index)
  run bsup_as b lock "$k"
  [ "$status" -eq 1 ]
  run bsup_as b lock "$k" --conflict-exit-code 7
  [ "$status" -eq 7 ]
  run --separate-stderr bsup_as b lock "$k" --json
  [ "$status" -eq 1 ]
  echo "$output" | jq -e --arg s "$(session_of a)" '.session_id == $s and .acquired == false'
  run bsup_as a lock "$k"
  [ "$status" -eq 0 ]
  [ "$(bsup_as a status "$k" --json | jq .lock_index)" -eq "$index" ]
  [ "$(pg "select session_id from blacksmith_supervisor.locks where key = '$k'")" = "$(session_of a)" ]
}

@test "unlock: only the holder releases; the row reads free in psql; lock_index grows" {
  k=$(key)
  bsup_as a lock "$k"
  first=$(bsup_as a status "$k" --json | jq .lock_index)
  run bsup_as b unlock "$k"
  [ "$status" -eq 1 ]
  [ "$(pg "select is_acquired from blacksmith_supervisor.locks where key = '$k'")" = t ]
  run bsup_as a unlock "$k"
  [ "$status" -eq 0 ]
  [ "$(pg "select is_acquired, session_id is null from blacksmith_supervisor.locks where key = '$k'")" = "f|t" ]
  run bsup_as a unlock "$k"
  [ "$status" -eq 1 ]
  run bsup_as b lock "$k"
  [ "$status" -eq 0 ]
  second=$(bsup_as b status "$k" --json | jq .lock_index)
  [ "$second" -gt "$first" ]
}

@test "unlock --force breaks another session's lock" {
  k=$(key)
  bsup_as a lock "$k"
  run bsup unlock --force "$k" --json
  [ "$status" -eq 0 ]
  [ "$(pg "select is_acquired from blacksmith_supervisor.locks where key = '$k'")" = f ]
  run bsup unlock --force "$k"
  [ "$status" -eq 1 ]
  run bsup_as b lock "$k"
  [ "$status" -eq 0 ]
}

@test "status: one key is an object, several an array, none the held keys; -e exits 1 when free" {
  k1=$(key one) k2=$(key two)
  bsup_as a lock "$k1"
  run bsup status "$k1" --json
  echo "$output" | jq -e 'type == "object" and .is_acquired'
  run bsup status "$k1" "$k2" --json
  [ "$status" -eq 0 ]
  echo "$output" | jq -e 'type == "array" and length == 2 and .[0].is_acquired and (.[1].is_acquired | not)'
  run bsup status --json
  echo "$output" | jq -e --arg k "$k1" 'map(select(.key == $k)) | length == 1'
  run bsup status -e "$k2"
  [ "$status" -eq 1 ]
  run bsup status -e "$k1"
  [ "$status" -eq 0 ]
  run bsup status "$k1"
  [ "$status" -eq 0 ]
  [[ "$output" == *"$k1"* ]]
}

@test "register, services, renew, deregister; the session row checked in psql" {
  k=$(key)
  run bsup_as a register --name blacksmith-gateway --address :9090 --tag edge --meta zone=eu --ttl 1m
  [ "$status" -eq 0 ]
  s=$(session_of a)
  [ "$(pg "select name, address, tags->>0, meta->>'zone' from blacksmith_supervisor.bsup_sessions where id = '$s'")" = "blacksmith-gateway|:9090|edge|eu" ]
  run bsup services --json
  echo "$output" | jq -e --arg s "$s" 'map(select(.id == $s and .name == "blacksmith-gateway" and .address == ":9090" and .tags == ["edge"] and .meta.zone == "eu")) | length == 1'
  before=$(pg "select expires_at from blacksmith_supervisor.bsup_sessions where id = '$s'")
  run bsup_as a renew
  [ "$status" -eq 0 ]
  [ "$(pg "select expires_at > '$before' from blacksmith_supervisor.bsup_sessions where id = '$s'")" = t ]
  bsup_as a lock "$k"
  [ "$(pg "select acquirer_name from blacksmith_supervisor.locks where key = '$k'")" = blacksmith-gateway ]
  run bsup_as a deregister
  [ "$status" -eq 0 ]
  [[ "$output" == *"$k"* ]]
  [ "$(pg "select is_acquired from blacksmith_supervisor.locks where key = '$k'")" = f ]
  [ "$(pg "select count(*) from blacksmith_supervisor.bsup_sessions where id = '$s'")" = 0 ]
  run bsup_as a renew
  [ "$status" -eq 4 ]
}

@test "expiry: a lapsed holder reads as free, another session takes the key, rows are cleaned up" {
  export BSUP_MIN_TTL=1s
  k=$(key) k2=$(key other)
  bsup_as a lock "$k" --ttl 2s
  bsup_as a lock "$k2"
  s=$(session_of a)
  run bsup_as b lock "$k"
  [ "$status" -eq 1 ]
  for _ in $(seq 1 100); do
    bsup_as b lock "$k" && break
    sleep 0.2
  done
  run bsup status "$k" --json
  echo "$output" | jq -e --arg s "$(session_of b)" '.is_acquired and .session_id == $s'
  [ "$(pg "select session_id from blacksmith_supervisor.locks where key = '$k'")" = "$(session_of b)" ]
  # The lapsed session's other key reads free, and a new session cleans its rows up.
  run bsup status "$k2" --json
  echo "$output" | jq -e '.is_acquired == false'
  bsup_as c register
  [ "$(pg "select is_acquired from blacksmith_supervisor.locks where key = '$k2'")" = f ]
  [ "$(pg "select count(*) from blacksmith_supervisor.bsup_sessions where id = '$s'")" = 0 ]
  # The lapsed holder releases nothing; its next lock starts a new session.
  run bsup_as a unlock "$k"
  [ "$status" -eq 1 ]
  run bsup_as a lock "$k2"
  [ "$status" -eq 0 ]
  [ "$(session_of a)" != "$s" ]
}

@test "a row written by a Blacksmith application reads as held and yields only to --force" {
  k=$(key)
  pg "insert into blacksmith_supervisor.locks (key, is_acquired, session_id, acquirer_name, acquirer_address, acquired_at)
      values ('$k', true, '2ItSWaiXXXXXXXXXXXXXXXXXXXX', 'blacksmith-gateway', ':9090', now() at time zone 'utc')"
  run bsup status "$k" --json
  [ "$status" -eq 0 ]
  echo "$output" | jq -e '.is_acquired and .acquirer_name == "blacksmith-gateway" and .acquirer_address == ":9090" and .session_id == "2ItSWaiXXXXXXXXXXXXXXXXXXXX"'
  run bsup status --json
  echo "$output" | jq -e --arg k "$k" 'map(select(.key == $k and .is_acquired)) | length == 1'
  run bsup_as a lock "$k"
  [ "$status" -eq 1 ]
  run bsup_as a unlock "$k"
  [ "$status" -eq 1 ]
  run bsup unlock --force "$k"
  [ "$status" -eq 0 ]
  run bsup_as a lock "$k"
  [ "$status" -eq 0 ]
}

@test "--wait: the waiter gets the key when the holder releases; it gives up at its deadline" {
  k=$(key)
  bsup_as a lock "$k"
  run bsup_as b lock "$k" --wait 1s
  [ "$status" -eq 1 ]
  bsup_as b lock "$k" --wait 60s >"$BATS_TEST_TMPDIR/waiter.out" 2>&1 &
  waiter=$!
  sleep 0.5
  bsup_as a unlock "$k"
  wait "$waiter"
  [ "$(pg "select session_id from blacksmith_supervisor.locks where key = '$k'")" = "$(session_of b)" ]
}

@test "a hand-off runs prepared statements straight to the server, never through PgBouncer" {
  # The server logs each statement's parse, bind and execute, with the statement's name: a
  # prepared statement is "bsup_N", the unnamed one "<unnamed>".
  local log="$BSUP_PG_DIR/log" k from
  k=$(key)
  pg "alter system set log_min_duration_statement = 0" && pg "select pg_reload_conf()" >/dev/null
  from=$(($(wc -l <"$log") + 1))
  bsup_as a run "$k" -- sleep 1 &
  holder=$!
  until bsup status -e "$k" >/dev/null; do sleep 0.05; done
  run bsup_as b run --wait 30s "$k" -- true
  wait "$holder"
  pg "alter system reset log_min_duration_statement" && pg "select pg_reload_conf()" >/dev/null
  [ "$status" -eq 0 ]
  tail -n "+$from" "$log" >"$BATS_TEST_TMPDIR/statements.log"
  # The release (WITH prev AS ...), which hands the key over, and the waiter's read that finds
  # the key its own (SELECT l.key ...).
  released=$(grep -c 'execute bsup_[0-9]*: WITH prev AS' "$BATS_TEST_TMPDIR/statements.log" || true)
  acquired=$(grep -c 'execute bsup_[0-9]*: SELECT l.key' "$BATS_TEST_TMPDIR/statements.log" || true)
  named=$(grep -c '\(parse\|execute\) bsup_' "$BATS_TEST_TMPDIR/statements.log" || true)
  echo "prepared: release $released, acquisition $acquired, named statements $named"
  # Handed over in the release's transaction: the grant has the release's time. Behind
  # PgBouncer there is no queue: the waiter takes the key in a transaction of its own.
  # Events: a's grant, a's release, b's grant, b's release (printed for a failure's report).
  pg "select event, session_id, at from blacksmith_supervisor.bsup_events where key = '$k' order by id"
  [ "$(pg "select count(*) from blacksmith_supervisor.bsup_events where key = '$k'")" -eq 4 ]
  run pg "select count(distinct at) from blacksmith_supervisor.bsup_events where key = '$k'"
  if [[ $BSUP_PG_URL == *":$BSUP_PG_PORT/"* ]]; then
    [ "$released" -ge 1 ] && [ "$acquired" -ge 1 ]
    [ "$output" -eq 3 ] # a's release and b's grant: one transaction
  else
    [ "$named" -eq 0 ] # PgBouncer in transaction mode: unnamed statements only
    [ "$output" -eq 4 ]
  fi
}

@test "usage errors are exit 2 before any backend is contacted" {
  run bsup --connection postgresql://nobody@127.0.0.1:1/x lock "bad//key"
  [ "$status" -eq 2 ]
  run bsup --connection postgresql://nobody@127.0.0.1:1/x lock k --wait nonsense
  [ "$status" -eq 2 ]
}
