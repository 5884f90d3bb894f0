#!/usr/bin/env bats
# bats sets $stderr (run --separate-stderr) and $output.
# shellcheck disable=SC2154
# TLS to PostgreSQL: bsup hands such connections to libpq (docs/drivers/postgres.md, "Files").
# A cluster of its own with ssl on and a certificate from a throwaway CA, and a role that
# pg_hba.conf admits over TLS only (hostssl) and rejects without it (hostnossl): a command that
# succeeds as that role went over TLS.
load ../../lib/common
load pg
bats_require_minimum_version 1.5.0

setup_file() {
  # Outside bats' folders, which the server's user (postgres) may not enter.
  TLS_DIR=$(mktemp -d /tmp/bsup-tls.XXXXXX)
  export TLS_DIR
  mkdir -p "$TLS_DIR/pg" "$TLS_DIR/certs"
  chmod 0755 "$TLS_DIR" "$TLS_DIR/pg"
  local c="$TLS_DIR/certs"
  # The CA, a server certificate for 127.0.0.1 signed by it, and a CA that signed nothing here.
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=bsup test CA" \
    -keyout "$c/ca.key" -out "$c/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$c/server.key" -out "$c/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\n' >"$c/san.ext"
  openssl x509 -req -in "$c/server.csr" -CA "$c/ca.crt" -CAkey "$c/ca.key" -CAcreateserial \
    -days 2 -extfile "$c/san.ext" -out "$c/server.crt" 2>/dev/null
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=another CA" \
    -keyout "$c/other.key" -out "$c/other.crt" 2>/dev/null

  TLS_PORT=$("$BSUP_SOURCE_DIR/tests/servers/postgres.sh" start "$TLS_DIR/pg" 3>&-)
  export TLS_PORT
  local data="$TLS_DIR/pg/data"
  cp "$c/server.crt" "$c/server.key" "$data/"
  chmod 0600 "$data/server.key"
  [ "$(id -u)" -ne 0 ] || chown postgres "$data/server.crt" "$data/server.key"
  sed -i '1i hostnossl all tls_only 127.0.0.1/32 reject\nhostssl all tls_only 127.0.0.1/32 scram-sha-256' \
    "$data/pg_hba.conf"
  tls_pg "alter system set ssl = on" >/dev/null
  tls_pg "select pg_reload_conf()" >/dev/null
  tls_pg "create role tls_only login password 'tls-s3cret'" >/dev/null
  # bsup's schema, made by the superuser (trusted, without TLS), then opened to the role.
  BSUP_STATE_FILE="$BATS_FILE_TMPDIR/schema.json" "$BSUP" \
    --connection "postgresql://postgres@127.0.0.1:$TLS_PORT/postgres?sslmode=disable" status k >/dev/null
  tls_pg "grant usage on schema blacksmith_supervisor to tls_only;
    grant select, insert, update, delete on all tables in schema blacksmith_supervisor to tls_only;
    grant usage on all sequences in schema blacksmith_supervisor to tls_only" >/dev/null
}

teardown_file() {
  "$BSUP_SOURCE_DIR/tests/servers/postgres.sh" stop "$TLS_DIR/pg" 3>&- || true
  rm -rf "$TLS_DIR"
}

setup() { pg_setup; }

# psql to the TLS cluster as the superuser (trusted on loopback, without TLS).
tls_pg() {
  psql -X -q -v ON_ERROR_STOP=1 "postgresql://postgres@127.0.0.1:$TLS_PORT/postgres?sslmode=disable" -Atc "$1"
}

# The connection as the TLS-only role, with the given query string.
tls_url() { echo "postgresql://tls_only:tls-s3cret@127.0.0.1:$TLS_PORT/postgres?$1"; }

@test "the role is refused without TLS: the suite's checks can fail" {
  run --separate-stderr bsup --connection "$(tls_url sslmode=disable)" status k
  echo "$stderr"
  [ "$status" -eq 3 ]
  [[ $stderr == *'rejects connection'* ]] || [[ $stderr == *'no encryption'* ]]
  [[ $stderr != *tls-s3cret* ]]
}

@test "sslmode=require: lock and unlock over TLS, through libpq" {
  k=$(key)
  run bsup --connection "$(tls_url sslmode=require)" lock "$k"
  [ "$status" -eq 0 ]
  [ "$(tls_pg "select is_acquired from blacksmith_supervisor.locks where key = '$k'")" = t ]
  run bsup --connection "$(tls_url sslmode=require)" unlock "$k"
  [ "$status" -eq 0 ]
  [ "$(tls_pg "select is_acquired from blacksmith_supervisor.locks where key = '$k'")" = f ]
}

@test "sslmode=prefer (libpq's default): bsup's own client sees the server offer TLS and hands over" {
  k=$(key)
  run bsup --connection "$(tls_url sslmode=prefer)" lock "$k"
  [ "$status" -eq 0 ]
  run bsup --connection "postgresql://tls_only:tls-s3cret@127.0.0.1:$TLS_PORT/postgres" status "$k" --json
  [ "$status" -eq 0 ]
  jq -e '.is_acquired' <<<"$output"
}

@test "sslmode=verify-full: the server's certificate checked against the CA and the host" {
  k=$(key)
  run bsup --connection "$(tls_url "sslmode=verify-full&sslrootcert=$TLS_DIR/certs/ca.crt")" lock "$k"
  [ "$status" -eq 0 ]
  # A CA that did not sign it: exit 3, the reason, and no password.
  run --separate-stderr bsup --connection "$(tls_url "sslmode=verify-full&sslrootcert=$TLS_DIR/certs/other.crt")" status "$k" --json
  echo "$output"
  [ "$status" -eq 3 ]
  jq -e '.error.code == "backend_unavailable" or .error.code == "backend_error"' <<<"$output"
  [[ $output == *"certificate verify failed"* ]]
  jq -e '.error.hint | contains("sslrootcert")' <<<"$output"
  [[ $output != *tls-s3cret* ]]
}

@test "--wait over TLS: the waiter listens through libpq and gets the key at the release" {
  k=$(key)
  url=$(tls_url sslmode=require)
  bsup_as a --connection "$url" lock "$k"
  bsup_as b --connection "$url" lock "$k" --wait 60s >"$BATS_TEST_TMPDIR/waiter.out" 2>&1 &
  waiter=$!
  sleep 0.5
  bsup_as a --connection "$url" unlock "$k"
  wait "$waiter"
  [ "$(tls_pg "select session_id from blacksmith_supervisor.locks where key = '$k'")" = "$(session_of b)" ]
}
