#!/usr/bin/env bats
# bats sets $stderr (run --separate-stderr) and $output.
# shellcheck disable=SC2154,SC2174,SC2030,SC2031,SC2016
# --json (and -o json): exactly one JSON document on stdout for every command, errors too.
load ../lib/common
load helpers

setup() { common_setup; }

# Runs bsup with the arguments and asserts that stdout is SPEC's error document for exit $1.
assert_json_error_of() {
  local rc=$1
  shift
  run --separate-stderr bsup "$@"
  [ "$status" -eq "$rc" ] || fail "bsup $*: exit $status, expected $rc; stdout: $output"
  assert_json_error "$output" "$rc"
}

@test "usage errors with --json are one JSON error document (exit 2)" {
  assert_json_error_of 2 lock a//b --json
  assert_json_error_of 2 --json lock a//b
  assert_json_error_of 2 lock k --no-such-flag --json
  assert_json_error_of 2 --json lock k --no-such-flag
  assert_json_error_of 2 --json
  assert_json_error_of 2 --json frobnicate
  assert_json_error_of 2 --json lock
  assert_json_error_of 2 lock k --ttl abc --json
  assert_json_error_of 2 lock k --from mysql --json
  assert_json_error_of 2 status k --timeout 0 --json
  assert_json_error_of 2 register --meta novalue --json
  assert_json_error_of 2 lock k --conflict-exit-code 300 --json
}

@test "-o json and --output json are the same as --json, errors too" {
  assert_json_error_of 2 lock a//b -o json
  assert_json_error_of 2 -o json lock a//b
  assert_json_error_of 2 lock a//b --output json
  assert_json_error_of 2 lock a//b --output=json
  assert_json_error_of 2 -ojson lock k --bogus
  bsup lock k
  [ "$(bsup status k -o json)" = "$(bsup status k --json)" ]
}

@test "a state file error with --json is one JSON error document (exit 4)" {
  mkdir -p -m 700 "$(dirname "$BSUP_STATE_FILE")"
  printf 'garbage' >"$BSUP_STATE_FILE"
  chmod 600 "$BSUP_STATE_FILE"
  assert_json_error_of 4 lock k --json
  assert_json_error_of 4 unlock k --json
  assert_json_error_of 4 renew --json
  assert_json_error_of 4 deregister --json
  echo "$output" | jqe --arg p "$BSUP_STATE_FILE" '.error.message | contains($p)'
}

@test "a backend error with --json is one JSON error document (exit 3)" {
  printf 'not a database%.0s\n' $(seq 300) >"$BATS_TEST_TMPDIR/bad.db"
  assert_json_error_of 3 lock k --connection "sqlite:$BATS_TEST_TMPDIR/bad.db" --json
  assert_json_error_of 3 status --connection "sqlite:$BATS_TEST_TMPDIR/bad.db" --json
}

@test "renew without a session with --json is one JSON error document (exit 4)" {
  assert_json_error_of 4 renew --json
}

@test "every successful command prints one JSON document" {
  local args
  for args in "register --name x" "lock k" "status k" "status" "status k k2" "renew" \
    "services" "version" "unlock k" "deregister"; do
    # shellcheck disable=SC2086
    run --separate-stderr bsup $args --json
    [ "$status" -eq 0 ] || fail "bsup $args --json: exit $status"
    assert_one_json "$output"
  done
}

@test "refusals (exit 1) print one JSON document, not an error object" {
  bsup_as A lock k
  local args
  for args in "lock k" "unlock k" "status -e free"; do
    # shellcheck disable=SC2086
    run --separate-stderr bsup_as B $args --json
    [ "$status" -eq 1 ] || fail "bsup $args --json: exit $status"
    assert_one_json "$output"
  done
}

@test "the JSON error names the code and keeps human text on stderr" {
  run --separate-stderr bsup lock a//b --json
  [ "$status" -eq 2 ]
  echo "$output" | jqe '.error.message | contains("a//b")'
  [ -n "$stderr" ] # diagnostics still go to stderr
  assert_one_json "$output"
}

@test "without --json, errors print nothing on stdout" {
  run --separate-stderr bsup lock a//b
  [ "$status" -eq 2 ]
  [ -z "$output" ] || fail "stdout: $output"
  [[ "$stderr" == *a//b* ]] || fail "stderr: $stderr"
}

@test "version --json lists sqlite among the drivers" {
  run --separate-stderr bsup version --json
  [ "$status" -eq 0 ]
  echo "$output" | jqe '(.version | type == "string" and length > 0)
      and (.drivers | index("sqlite") != null)'
}
