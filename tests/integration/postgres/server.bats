#!/usr/bin/env bats
# The postgres driver and its server: restarts, outages, authentication, connection forms, many
# processes on an empty database. Straight to the server only (not through PgBouncer).
load ../../lib/common
load pg
bats_require_minimum_version 1.5.0

setup() { pg_setup; }

teardown() {
  # Whatever a test did to the server, leave it running for the next one.
  pid=$(head -1 "$BSUP_PG_DIR/data/postmaster.pid" 2>/dev/null || true)
  [ -z "$pid" ] || kill -CONT "$pid" 2>/dev/null || true
  pg "select 1" >/dev/null 2>&1 || "$BSUP_SOURCE_DIR/tests/servers/postgres.sh" start "$BSUP_PG_DIR" >/dev/null 3>&-
}

@test "the server restarted between lock and unlock: the lock is still held afterwards" {
  k=$(key)
  bsup_as a lock "$k"
  "$BSUP_SOURCE_DIR/tests/servers/postgres.sh" restart "$BSUP_PG_DIR" 3>&-
  run bsup status "$k" --json
  [ "$status" -eq 0 ]
  echo "$output" | jq -e --arg s "$(session_of a)" '.is_acquired and .session_id == $s'
  run bsup_as b lock "$k"
  [ "$status" -eq 1 ]
  run bsup_as a unlock "$k"
  [ "$status" -eq 0 ]
}

@test "the server stopped: exit 3 at once, naming host and port" {
  "$BSUP_SOURCE_DIR/tests/servers/postgres.sh" stop "$BSUP_PG_DIR" 3>&-
  start=$SECONDS
  run bsup lock "$(key)" --timeout 3s
  [ "$status" -eq 3 ]
  [ $((SECONDS - start)) -le 8 ]
  [[ "$output" == *"127.0.0.1:$BSUP_PG_PORT"* ]]
  run --separate-stderr bsup status "$(key)" --timeout 3s --json
  [ "$status" -eq 3 ]
  echo "$output" | jq -e '.error.exit_code == 3'
}

@test "a server that accepts but does not answer: exit 3 within --timeout" {
  pid=$(head -1 "$BSUP_PG_DIR/data/postmaster.pid")
  kill -STOP "$pid"
  start=$SECONDS
  run bsup status "$(key)" --timeout 2s
  kill -CONT "$pid"
  [ "$status" -eq 3 ]
  [ $((SECONDS - start)) -le 7 ]
  [[ "$output" == *"127.0.0.1:$BSUP_PG_PORT"* ]]
  [[ "$output" == *timeout* ]]
}

@test "the password is never printed, stored or logged" {
  pw='Pa55-w0rd-s3cr3t'
  pg "drop role if exists secretive; create role secretive login password '$pw'"
  bsup status "$(key)" >/dev/null # the schema exists before the role uses it
  pg "grant usage on schema blacksmith_supervisor to secretive;
      grant select, insert, update, delete on all tables in schema blacksmith_supervisor to secretive;
      grant usage on all sequences in schema blacksmith_supervisor to secretive"
  url="postgresql://secretive:$pw@127.0.0.1:$BSUP_PG_PORT/postgres"
  k=$(key)
  out="$BATS_TEST_TMPDIR/all.out"
  {
    bsup_as a --connection "$url" lock "$k" -v
    bsup_as a --connection "$url" status "$k" --json -v
    bsup_as a --connection "$url" status --log-format json -v
    bsup_as a --connection "host=127.0.0.1 port=$BSUP_PG_PORT user=secretive password=$pw dbname=postgres" status "$k" -v
    bsup_as a --connection "postgresql://secretive:wrong-$pw@127.0.0.1:$BSUP_PG_PORT/postgres" status "$k" -v --json || echo "exit $?"
    bsup_as b --connection "host=127.0.0.1 port=$BSUP_PG_PORT user=secretive password=bad$pw" lock "$k" -v || echo "exit $?"
    bsup_as a --connection "$url" unlock "$k" -v
  } >"$out" 2>&1
  cat "$out"
  [ "$(grep -c 'exit 3' "$out")" -eq 2 ]
  # Not in any output, state file or other file of the test (grep: 1 is "no match").
  run grep -rlF "$pw" "$BATS_TEST_TMPDIR"
  [ "$status" -eq 1 ]
  [ "$(pg "select acquirer_name from blacksmith_supervisor.locks where key = '$k'")" = "" ]
}

@test "fifty processes start at once on an empty database: all succeed" {
  pg "drop database if exists fresh" && pg "create database fresh"
  for i in $(seq 1 50); do
    (
      rc=0
      bsup_as "p$i" --connection "postgresql://postgres@127.0.0.1:$BSUP_PG_PORT/fresh" lock "k/$i" -q || rc=$?
      echo "$rc" >"$BATS_TEST_TMPDIR/rc-$i"
    ) &
  done
  wait
  for i in $(seq 1 50); do [ "$(cat "$BATS_TEST_TMPDIR/rc-$i")" = 0 ]; done
  [ "$(PGDB=fresh pg "select count(*) from blacksmith_supervisor.locks where is_acquired")" = 50 ]
  [ "$(PGDB=fresh pg "select max(version) from blacksmith_supervisor.bsup_schema_version")" = 3 ]
}

@test "every libpq form: key=value, PG* variables, POSTGRES_SUPERVISOR_URL, DATABASE_URL" {
  k=$(key)
  unset BSUP_CONNECTION
  run bsup_as a --connection "host=127.0.0.1 port=$BSUP_PG_PORT user=postgres dbname=postgres" lock "$k"
  [ "$status" -eq 0 ]
  run env PGHOST=127.0.0.1 PGPORT="$BSUP_PG_PORT" PGUSER=postgres PGDATABASE=postgres "$BSUP" --from postgres status "$k" --json
  [ "$status" -eq 0 ]
  echo "$output" | jq -e .is_acquired
  run env POSTGRES_SUPERVISOR_URL="$BSUP_PG_URL" "$BSUP" --from postgres status "$k" --json
  echo "$output" | jq -e .is_acquired
  run env DATABASE_URL="$BSUP_PG_URL" "$BSUP" --from postgres status "$k" --json
  echo "$output" | jq -e .is_acquired
}

@test "a waiter waits under application_name bsup and wakes on the release" {
  k=$(key)
  bsup_as a lock "$k"
  bsup_as b lock "$k" --wait 60s &
  waiter=$!
  found=
  for _ in $(seq 1 100); do
    found=$(pg "select count(*) from pg_stat_activity where application_name = 'bsup'")
    [ "$found" -ge 1 ] && break
    sleep 0.1
  done
  [ "$found" -ge 1 ]
  bsup_as a unlock "$k"
  wait "$waiter"
  [ "$(pg "select session_id from blacksmith_supervisor.locks where key = '$k'")" = "$(session_of b)" ]
}

@test "without libpq: plain connections work, TLS ones exit 3 saying to install libpq5" {
  run ldd "$BSUP"
  [ "$status" -eq 0 ]
  [[ "$output" != *libpq* ]]
  lib=$(ldconfig -p | awk '/libpq\.so\.5 / { print $NF; exit }')
  [ -n "$lib" ]
  : >"$BATS_TEST_TMPDIR/empty.so"
  without_libpq() {
    # shellcheck disable=SC2016 # expanded by the inner sh
    unshare -m sh -c 'mount --bind "$1" "$2" && shift 2 && exec "$@"' sh \
      "$BATS_TEST_TMPDIR/empty.so" "$lib" "$BSUP" "$@"
  }
  run without_libpq --connection "$BSUP_PG_URL" status k
  [ "$status" -eq 0 ]
  run without_libpq --connection "$BSUP_PG_URL?sslmode=require" status k
  [ "$status" -eq 3 ]
  [[ "$output" == *"install libpq5"* ]]
}
