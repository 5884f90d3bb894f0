#!/usr/bin/env bats
# bats sets $stderr (run --separate-stderr) and $output.
# shellcheck disable=SC2154,SC2174,SC2030,SC2031,SC2016
# No secret from --connection (or BSUP_CONNECTION, DATABASE_URL, ...) reaches stdout, stderr, the
# logs or the state file. A sqlite: connection carries no password, so these use postgres
# connections against a dead port (127.0.0.1:1): bsup must fail (exit 3 when the postgres driver
# is built in) without printing the password.
load ../lib/common
load helpers

setup() { common_setup; }

k_uri='postgres://bsup:s3cr3tpw@127.0.0.1:1/app?connect_timeout=2'
k_kv="host=127.0.0.1 port=1 user=bsup password='s3cr3t x' dbname=app connect_timeout=2"

setup_file() {
  HAS_POSTGRES=$("$BSUP" version --json | jq '.drivers | index("postgres") != null')
  export HAS_POSTGRES
}

has_postgres() { [ "$HAS_POSTGRES" = true ]; }

# Runs bsup with the arguments in every output mode and asserts that the secret $1 (and its first
# word) appears in none of stdout and stderr, and that the exit code is $2 (3: the backend is
# unreachable) when the postgres driver is built in, non-zero otherwise.
assert_never_shows() {
  local secret=$1 rc=$2
  shift 2
  local word=${secret%% *} mode
  local -a modes=("" "--json" "-vv" "-v --log-format json" "--json -v --log-format json")
  for mode in "${modes[@]}"; do
    # shellcheck disable=SC2086
    run --separate-stderr bsup "$@" $mode
    if has_postgres; then
      [ "$status" -eq "$rc" ] || fail "bsup $* $mode: exit $status, expected $rc"
    else
      [ "$status" -ne 0 ] || fail "bsup $* $mode: exit 0 on a dead backend"
    fi
    # bsup said why it failed (a control: a silent failure proves nothing)
    [ -n "$stderr" ] || fail "bsup $* $mode: nothing on stderr"
    if [[ "$mode" == *--json* ]]; then
      assert_json_error "$output" "$status"
    fi
    [[ "$output" != *"$word"* ]] || fail "bsup ... $mode: the secret is on stdout: $output"
    [[ "$stderr" != *"$word"* ]] || fail "bsup ... $mode: the secret is on stderr: $stderr"
  done
  # nor in any file bsup wrote: state files, databases, lock files
  run grep -rl -- "$word" "$BATS_TEST_TMPDIR"
  [ "$status" -eq 1 ] || fail "the secret is in: $output"
}

@test "secrets: postgres URI password, every subcommand, every output mode" {
  local cmd
  for cmd in "lock k" "unlock k" "unlock --force k" "status k" "status" "register" \
    "services"; do
    # shellcheck disable=SC2086
    assert_never_shows s3cr3tpw 3 $cmd --connection "$k_uri" --timeout 3s
  done
}

@test "secrets: postgres URI with --from postgres and postgresql:// scheme" {
  assert_never_shows s3cr3tpw 3 lock k --from postgres --connection "$k_uri" --timeout 3s
  assert_never_shows s3cr3tpw 3 lock k --connection "postgresql://u:s3cr3tpw@127.0.0.1:1/x" \
    --timeout 3s
}

@test "secrets: key=value form, password='s3cr3t x'" {
  assert_never_shows "s3cr3t x" 3 lock k --from postgres --connection "$k_kv" --timeout 3s
  assert_never_shows "s3cr3t x" 3 status k --connection "$k_kv" --timeout 3s
}

@test "secrets: from BSUP_CONNECTION and DATABASE_URL" {
  BSUP_CONNECTION=$k_uri assert_never_shows s3cr3tpw 3 lock k --timeout 3s
  DATABASE_URL=$k_uri assert_never_shows s3cr3tpw 3 lock k --from postgres --timeout 3s
  POSTGRES_SUPERVISOR_URL=$k_uri assert_never_shows s3cr3tpw 3 lock k --from postgres --timeout 3s
}

@test "secrets: a postgres backend on a dead port is exit 3 within --timeout + 5s" {
  has_postgres || skip "the postgres driver is not built into this bsup"
  local start=$SECONDS
  run bsup lock k --connection "$k_uri" --timeout 3s
  [ "$status" -eq 3 ]
  [ $((SECONDS - start)) -le 8 ]
}

@test "secrets: a connection with an unknown scheme is exit 2, and its password not shown" {
  assert_never_shows s3cr3tpw 2 lock k --connection 'mysql://u:s3cr3tpw@127.0.0.1:1/db'
}

@test "secrets: a usage error on the same command line does not show the connection" {
  assert_never_shows s3cr3tpw 2 lock a//b --connection "$k_uri"
  assert_never_shows s3cr3tpw 2 lock k --bogus --connection "$k_uri"
  assert_never_shows s3cr3tpw 2 lock k --connection="$k_uri" --ttl nope
  assert_never_shows s3cr3tpw 2 --connection "$k_uri" --connection "$k_uri" lock k
}

@test "secrets: a percent-encoded password is not shown, encoded or decoded" {
  assert_never_shows 's3cr%40t' 3 lock k --connection 'postgres://u:s3cr%40t@127.0.0.1:1/db' \
    --timeout 3s
  assert_never_shows 's3cr@t' 3 lock k --connection 'postgres://u:s3cr%40t@127.0.0.1:1/db' \
    --timeout 3s
}

@test "secrets: a refused state file of a postgres session does not show its connection" {
  bsup lock k
  assert_never_shows s3cr3tpw 4 lock k --connection "$k_uri" --timeout 3s
}
