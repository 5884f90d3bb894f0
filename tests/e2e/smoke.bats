#!/usr/bin/env bats
# bats sets $stderr (run --separate-stderr) and $output.
# shellcheck disable=SC2154,SC2174,SC2030,SC2031,SC2016
load ../lib/common
load helpers

setup() { common_setup; }

@test "lock, status, unlock on the embedded default" {
  run bsup lock migrations/x
  [ "$status" -eq 0 ]
  run --separate-stderr bsup status migrations/x --json
  [ "$status" -eq 0 ]
  echo "$output" | jqe '.is_acquired == true and (.session_id | length == 27)'
  run bsup unlock migrations/x
  [ "$status" -eq 0 ]
}
