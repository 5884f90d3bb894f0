#!/usr/bin/env bats
# bsup's own protocol client and its hand-over to libpq (docs/drivers/postgres.md, "Files"):
# which connections load libpq, every authentication method the own client speaks, and the
# cases only libpq can serve. LD_DEBUG=libs shows whether the dynamic loader opened libpq.

load ../../lib/common
load pg

setup() {
  pg_setup
}

# The roles the own client must authenticate: one per method of pg_hba.conf, before the general
# scram line of tests/servers/postgres.sh. Idempotent: the cluster lives for the whole suite.
add_role() { # NAME PASSWORD METHOD
  local hba="$BSUP_PG_DIR/data/pg_hba.conf"
  if ! grep -q "^host all $1 " "$hba"; then
    sed -i "1i host all $1 127.0.0.1/32 $3" "$hba"
    pg "select pg_reload_conf()" >/dev/null
  fi
  bsup status "$(key)" >/dev/null # the schema exists before the role uses it
  pg "set password_encryption = '$([ "$3" = md5 ] && echo md5 || echo scram-sha-256)';
      drop role if exists $1; create role $1 login password '$2';
      grant usage on schema blacksmith_supervisor to $1;
      grant select, insert, update, delete on all tables in schema blacksmith_supervisor to $1;
      grant usage on all sequences in schema blacksmith_supervisor to $1"
}

# Runs bsup with the loader's log; sets `loaded_libpq` to yes or no.
bsup_traced() {
  local log="$BATS_TEST_TMPDIR/ld.log"
  run env LD_DEBUG=libs LD_DEBUG_OUTPUT="$log" "$BSUP" "$@"
  if cat "$log".* 2>/dev/null | grep -q 'calling init: .*libpq\.so'; then
    loaded_libpq=yes
  else
    loaded_libpq=no
  fi
  rm -f "$log".*
}

@test "a plain TCP connection loads no libpq, and the rows are the same as through libpq" {
  k=$(key)
  bsup_traced lock "$k" --json
  [ "$status" -eq 0 ]
  [ "$loaded_libpq" = no ]
  echo "$output" | jq -e '.acquired == true'
  BSUP_POSTGRES_CLIENT=libpq bsup_traced status "$k" --json
  [ "$status" -eq 0 ]
  [ "$loaded_libpq" = yes ]
  echo "$output" | jq -e ".is_acquired == true and .session_id == \"$(session_in "$BSUP_STATE_FILE")\""
  [ "$(pg "select is_acquired from blacksmith_supervisor.locks where key = '$k'")" = t ]
}

@test "a unix socket directory, as a key=value host and as a percent-encoded URI host" {
  k=$(key)
  bsup_traced --connection "host=$BSUP_PG_DIR port=$BSUP_PG_PORT user=postgres dbname=postgres" lock "$k"
  [ "$status" -eq 0 ]
  [ "$loaded_libpq" = no ]
  dir=$(printf '%s' "$BSUP_PG_DIR" | sed 's|/|%2F|g')
  run bsup --connection "postgresql://postgres@$dir:$BSUP_PG_PORT/postgres" status "$k" --json
  [ "$status" -eq 0 ]
  echo "$output" | jq -e '.is_acquired == true'
}

@test "scram-sha-256, md5 and password authentication, without libpq" {
  add_role wire_scram 'sc:r@m pw' scram-sha-256
  add_role wire_md5 'md5 pw' md5
  add_role wire_clear 'clear pw' password
  for who in scram md5 clear; do
    case $who in
      scram) url="postgresql://wire_scram:sc%3Ar%40m%20pw@127.0.0.1:$BSUP_PG_PORT/postgres" ;;
      md5) url="host=127.0.0.1 port=$BSUP_PG_PORT user=wire_md5 password='md5 pw' dbname=postgres" ;;
      clear) url="host=127.0.0.1 port=$BSUP_PG_PORT user=wire_clear dbname=postgres" ;;
    esac
    k=$(key "$who")
    PGPASSWORD='clear pw' BSUP_STATE_FILE="$BATS_TEST_TMPDIR/$who.json" bsup_traced --connection "$url" lock "$k"
    echo "$who: $output"
    [ "$status" -eq 0 ]
    [ "$loaded_libpq" = no ]
    [ "$(pg "select is_acquired from blacksmith_supervisor.locks where key = '$k'")" = t ]
  done
}

@test "a wrong password: exit 3, the server's reason, and the password never shown" {
  add_role wire_denied 'right-pw' scram-sha-256
  for client in own libpq; do
    BSUP_POSTGRES_CLIENT=$client run bsup --connection "postgresql://wire_denied:Wr0ng-s3cret@127.0.0.1:$BSUP_PG_PORT/postgres" lock "$(key)" --json
    echo "$client: $output"
    [ "$status" -eq 3 ]
    [[ "$output" == *'password authentication failed for user \"wire_denied\"'* ]]
    [[ "$output" == *"127.0.0.1:$BSUP_PG_PORT"* ]]
    [[ "$output" != *Wr0ng-s3cret* ]]
  done
}

@test "only libpq can: sslmode=require (no TLS here: libpq's refusal), a password file" {
  bsup_traced --connection "postgresql://postgres@127.0.0.1:$BSUP_PG_PORT/postgres?sslmode=require" status "$(key)"
  [ "$status" -eq 3 ]
  [ "$loaded_libpq" = yes ]
  [[ "$output" == *SSL* ]]

  add_role wire_pgpass 'from-the-file' scram-sha-256
  printf '127.0.0.1:%s:postgres:wire_pgpass:from-the-file\n' "$BSUP_PG_PORT" >"$BATS_TEST_TMPDIR/pgpass"
  chmod 0600 "$BATS_TEST_TMPDIR/pgpass"
  k=$(key)
  PGPASSFILE="$BATS_TEST_TMPDIR/pgpass" bsup_traced --connection "postgresql://wire_pgpass@127.0.0.1:$BSUP_PG_PORT/postgres" lock "$k"
  [ "$status" -eq 0 ]
  [ "$loaded_libpq" = yes ]
  [ "$(pg "select is_acquired from blacksmith_supervisor.locks where key = '$k'")" = t ]
}

@test "a statement past --timeout is cancelled on the server, and bsup exits 3" {
  k=$(key)
  bsup lock "$k"
  # Hold the lock row in an open transaction, so that bsup's unlock waits for it.
  pg_pid_file="$BATS_TEST_TMPDIR/holder.pid"
  psql -X -q -h 127.0.0.1 -p "$BSUP_PG_PORT" -U postgres -d postgres \
    -c "begin; select 1 from blacksmith_supervisor.locks where key = '$k' for update; select pg_sleep(30)" \
    >/dev/null 2>&1 &
  echo $! >"$pg_pid_file"
  for _ in $(seq 1 100); do
    [ "$(pg "select count(*) from pg_stat_activity where query like '%pg_sleep(30)%' and pid <> pg_backend_pid()")" -ge 1 ] && break
    sleep 0.1
  done
  run bsup unlock "$k" --timeout 1s
  kill "$(cat "$pg_pid_file")" 2>/dev/null || true
  pg "select pg_terminate_backend(pid) from pg_stat_activity where query like '%pg_sleep(30)%' and pid <> pg_backend_pid()" >/dev/null
  echo "$output"
  [ "$status" -eq 3 ]
  [[ "$output" == *"within --timeout"* ]]
  # The cancelled statement is gone from the server.
  [ "$(pg "select count(*) from pg_stat_activity where application_name = 'bsup' and state = 'active'")" = 0 ]
}
