#!/usr/bin/env bats
# bats sets $stderr (run --separate-stderr) and $output.
# shellcheck disable=SC2154,SC2174,SC2030,SC2031,SC2016
# SPEC's exit code table, one row at a time (1 and 4 are also covered in lock, unlock and
# state_file). 5 and 130 belong to `run` and `--wait`, not built yet.
load ../lib/common
load helpers

setup() { common_setup; }

# Exit 2 and no contact with any backend: no database created, no state file written.
assert_usage_error_untouched() {
  run --separate-stderr bsup "$@"
  [ "$status" -eq 2 ] || fail "bsup $*: exit $status, expected 2; stderr: $stderr"
  [ -n "$stderr" ] || fail "bsup $*: nothing on stderr"
  [ ! -e "$(default_db)" ] || fail "bsup $*: created the database"
  [ ! -e "$BSUP_STATE_FILE" ] || fail "bsup $*: wrote a state file"
}

@test "0: done" {
  run bsup lock k
  [ "$status" -eq 0 ]
  run --separate-stderr bsup status k --json
  [ "$status" -eq 0 ]
  echo "$output" | jqe '.is_acquired == true'
  run bsup unlock k
  [ "$status" -eq 0 ]
  run --separate-stderr bsup status k --json
  echo "$output" | jqe '.is_acquired == false'
}

@test "2: key a//b is invalid, before any backend is contacted" {
  assert_usage_error_untouched lock a//b
  assert_usage_error_untouched unlock a//b
  assert_usage_error_untouched status a//b
  assert_usage_error_untouched unlock --force a//b
}

@test "2: other invalid keys (empty segments, . and .., leading or trailing /, empty)" {
  local key
  for key in "" / /a a/ a//b a/./b a/../b . .. ./a a/.. "a/b/"; do
    assert_usage_error_untouched lock "$key"
  done
}

@test "2: keys with control characters or invalid UTF-8" {
  local key
  for key in $'a\nb' $'a\tb' $'a\x01b' $'a\x7fb' $'\xff' $'a\xc3' $'\xc0\xaf'; do
    assert_usage_error_untouched lock "$key"
  done
}

@test "2: a key longer than 512 bytes; 512 bytes is fine" {
  local long wide
  long=$(printf 'a%.0s' $(seq 513))
  wide=$(printf 'é%.0s' $(seq 256)) # 512 bytes of UTF-8 in 2-byte characters
  assert_usage_error_untouched lock "$long"
  assert_usage_error_untouched lock "${wide}x"
  run bsup lock "${long:1}"
  [ "$status" -eq 0 ]
  run bsup lock "$wide"
  [ "$status" -eq 0 ]
}

@test "0: valid keys of many forms" {
  local key
  for key in k a/b migrations/warehouse triggers/src/trig actions/dst/act a.b/c..d ...x \
    "with space" 'ключ/键' 'a-b_c:d@e'; do
    run bsup lock "$key"
    [ "$status" -eq 0 ] || fail "lock '$key': exit $status: $output"
  done
  run --separate-stderr bsup status --json
  echo "$output" | jqe 'length == 10 and (map(.key) | index("ключ/键") != null)' 
}

@test "2: an unknown flag, before and after the subcommand" {
  assert_usage_error_untouched lock k --no-such-flag
  assert_usage_error_untouched --no-such-flag lock k
  assert_usage_error_untouched status -Z
}

@test "2: bsup alone, an unknown subcommand, a missing key, an extra argument" {
  assert_usage_error_untouched
  assert_usage_error_untouched frobnicate
  assert_usage_error_untouched lock
  assert_usage_error_untouched unlock
  assert_usage_error_untouched lock k extra
}

@test "2: bad values of flags" {
  assert_usage_error_untouched lock k --ttl 0s
  assert_usage_error_untouched lock k --ttl abc
  assert_usage_error_untouched lock k --ttl -5m
  assert_usage_error_untouched lock k --timeout 0
  assert_usage_error_untouched lock k --timeout never
  assert_usage_error_untouched lock k --from mysql
  assert_usage_error_untouched lock k -o yaml
  assert_usage_error_untouched lock k --log-format xml
  assert_usage_error_untouched lock k --connection 'mysql://db/x'
  assert_usage_error_untouched lock k --wait forever
}

@test "2: a bad BSUP_FROM is a usage error too" {
  BSUP_FROM=mysql assert_usage_error_untouched lock k
}

@test "3: the sqlite database is not a database" {
  printf 'this is not an sqlite database, just text\n%.0s' $(seq 200) >"$BATS_TEST_TMPDIR/bad.db"
  run --separate-stderr bsup lock k --connection "sqlite:$BATS_TEST_TMPDIR/bad.db"
  [ "$status" -eq 3 ] || fail "exit $status; stderr: $stderr"
  [[ "$stderr" == *bad.db* ]] || fail "stderr does not name the database: $stderr"
}

@test "3: the sqlite database cannot be opened (its folder is a file)" {
  run --separate-stderr bsup status k --connection "sqlite:/dev/null/x.db"
  [ "$status" -eq 3 ] || fail "exit $status; stderr: $stderr"
}

@test "0: --help and --version" {
  run bsup --help
  [ "$status" -eq 0 ]
  run bsup lock --help
  [ "$status" -eq 0 ]
  run bsup --version
  [ "$status" -eq 0 ]
}
