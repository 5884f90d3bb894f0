#!/usr/bin/env bats
# bats sets $stderr (run --separate-stderr) and $output.
# shellcheck disable=SC2154,SC2174,SC2030,SC2031,SC2016
# Global flags, before and after the subcommand; output modes; help and version.
load ../lib/common
load helpers

setup() { common_setup; }

@test "global flags work before and after the subcommand" {
  bsup lock k
  local before after
  before=$(bsup --json status k)
  after=$(bsup status k --json)
  [ "$before" = "$after" ]
  echo "$after" | jqe '.is_acquired == true'
  [ "$(bsup -o json status k)" = "$after" ]
  [ "$(bsup status -o json k)" = "$after" ]
}

@test "--state-file before and after the subcommand names the same file" {
  local file="$BATS_TEST_TMPDIR/s/state.json"
  bsup --state-file "$file" lock k
  [ -f "$file" ]
  run bsup unlock k --state-file "$file"
  [ "$status" -eq 0 ]
  run bsup unlock --state-file="$file" k
  [ "$status" -eq 1 ]
}

@test "--connection before and after the subcommand" {
  local db="$BATS_TEST_TMPDIR/x.db"
  bsup --connection "sqlite:$db" lock k
  [ -f "$db" ]
  run --separate-stderr bsup status k --connection "sqlite:$db" --json
  echo "$output" | jqe '.is_acquired == true'
  # the default database does not know k
  bsup deregister --force
  run --separate-stderr bsup status k --json
  echo "$output" | jqe '.is_acquired == false'
}

@test "BSUP_CONNECTION and BSUP_FROM select the database; the flag wins over the variable" {
  BSUP_CONNECTION="sqlite:$BATS_TEST_TMPDIR/env.db" bsup lock k
  [ -f "$BATS_TEST_TMPDIR/env.db" ]
  run --separate-stderr env BSUP_CONNECTION="sqlite:$BATS_TEST_TMPDIR/env.db" "$BSUP" status k --json
  echo "$output" | jqe '.is_acquired == true'
  run --separate-stderr env BSUP_CONNECTION="sqlite:$BATS_TEST_TMPDIR/env.db" "$BSUP" status k --json \
    --connection "sqlite:$BATS_TEST_TMPDIR/flag.db"
  echo "$output" | jqe '.is_acquired == false'
  run --separate-stderr env BSUP_FROM=sqlite "$BSUP" status k --json
  [ "$status" -eq 0 ]
}

@test "with neither --from nor --connection, the embedded database under XDG_STATE_HOME" {
  bsup lock k
  [ -f "$(default_db)" ]
}

@test "-q: a refused lock prints nothing at all; a granted one nothing on stdout" {
  bsup_as A lock k
  run --separate-stderr bsup_as B lock k -q
  [ "$status" -eq 1 ]
  [ -z "$output" ] && [ -z "$stderr" ] || fail "stdout: $output; stderr: $stderr"
  run --separate-stderr bsup_as C lock k2 -q
  [ "$status" -eq 0 ]
  [ -z "$output" ] || fail "stdout: $output"
}

@test "-q still prints errors on stderr" {
  run --separate-stderr bsup lock a//b -q
  [ "$status" -eq 2 ]
  [ -n "$stderr" ]
}

@test "-v logs on stderr and leaves stdout as it is" {
  bsup lock k
  run --separate-stderr bsup status k --json
  local quiet_stdout=$output quiet_stderr=$stderr
  run --separate-stderr bsup status k --json -v
  [ "$status" -eq 0 ]
  [ "$(jq -c 'del(.expires_at)' <<<"$output")" = "$(jq -c 'del(.expires_at)' <<<"$quiet_stdout")" ]
  [ -z "$quiet_stderr" ]
  [ -n "$stderr" ] || fail "-v logged nothing"
  run --separate-stderr bsup --verbose status k
  [ -n "$stderr" ]
}

@test "--log-format json: every line on stderr is a JSON object, stdout unchanged" {
  bsup_as A lock k
  run --separate-stderr bsup_as B lock k -v --log-format json
  [ "$status" -eq 1 ]
  [ -z "$output" ]
  [ -n "$stderr" ]
  assert_json_lines "$stderr"
  run --separate-stderr bsup lock a//b --log-format json
  [ "$status" -eq 2 ]
  [ -z "$output" ]
  [ -n "$stderr" ]
  assert_json_lines "$stderr"
  run --separate-stderr bsup --log-format json -v lock k2
  [ "$status" -eq 0 ]
  assert_json_lines "$stderr"
}

@test "--log-format json: a usage error from the parser is a JSON log line too" {
  run --separate-stderr bsup lock k --bogus --log-format json
  [ "$status" -eq 2 ]
  [ -n "$stderr" ]
  assert_json_lines "$stderr"
}

@test "--help and -h exit 0 and print usage on stdout, for bsup and each subcommand" {
  local cmd
  for cmd in "" lock unlock status register deregister renew services version; do
    # shellcheck disable=SC2086
    run --separate-stderr bsup $cmd --help
    [ "$status" -eq 0 ] || fail "bsup $cmd --help: exit $status"
    [[ "$output" == *sage* ]] || fail "bsup $cmd --help: no usage on stdout: $output"
    # shellcheck disable=SC2086
    run bsup $cmd -h
    [ "$status" -eq 0 ] || fail "bsup $cmd -h: exit $status"
  done
}

@test "--help names the exit codes" {
  run bsup --help
  [[ "$output" == *"Exit codes"* ]]
}

@test "--version and version exit 0 and print the version" {
  run bsup --version
  [ "$status" -eq 0 ]
  [[ "$output" == "bsup "[0-9]* ]] || fail "output: $output"
  run bsup version
  [ "$status" -eq 0 ]
  [[ "$output" == *sqlite* ]]
}

@test "unknown flags exit 2: long, short, global position, subcommand position" {
  local args
  for args in "--bogus" "--bogus status" "status --bogus" "status -Z" "lock k --forcee" \
    "unlock --bogus k" "services --bogus" "version --bogus" "register --ttl"; do
    # shellcheck disable=SC2086
    run --separate-stderr bsup $args
    [ "$status" -eq 2 ] || fail "bsup $args: exit $status"
    [ -z "$output" ] || fail "bsup $args: stdout: $output"
    [ -n "$stderr" ] || fail "bsup $args: nothing on stderr"
  done
}

@test "bsup alone exits 2 and says how to get help" {
  run --separate-stderr bsup
  [ "$status" -eq 2 ]
  [ -n "$stderr" ]
}

@test "-- ends the flags: a key that looks like a flag is still validated as a key" {
  run bsup lock -- -k
  [ "$status" -eq 0 ]
  run --separate-stderr bsup status --json -- -k
  [ "$status" -eq 0 ]
  echo "$output" | jqe '.key == "-k" and .is_acquired == true'
  run bsup lock -- a//b
  [ "$status" -eq 2 ]
}

@test "NO_COLOR and a non-terminal: no escape sequences in the output" {
  bsup lock k
  run bsup status
  [[ "$output" == *k* && "$output" != *$'\e'* ]]
}
