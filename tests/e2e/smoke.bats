#!/usr/bin/env bats
load ../lib/common

setup() { common_setup; }

@test "lock, status, unlock on the embedded default" {
  run bsup lock migrations/x
  [ "$status" -eq 0 ]
  run bsup status migrations/x --json
  [ "$status" -eq 0 ]
  echo "$output" | jq -e '.is_acquired == true and (.session_id | length == 27)'
  run bsup unlock migrations/x
  [ "$status" -eq 0 ]
}
