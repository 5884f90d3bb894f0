#!/usr/bin/env bats
# bats sets $stderr (run --separate-stderr) and $output.
# shellcheck disable=SC2154,SC2174,SC2030,SC2031,SC2016
# unlock, and unlock --force for the operator whose lock holder died.
load ../lib/common
load helpers

setup() { common_setup; }

@test "unlock of a key this session holds releases it (exit 0)" {
  bsup lock k
  run bsup unlock k
  [ "$status" -eq 0 ]
  run --separate-stderr bsup status k --json
  echo "$output" | jqe '.is_acquired == false'
}

@test "unlock of a free key exits 1" {
  bsup lock other
  run bsup unlock k
  [ "$status" -eq 1 ]
}

@test "unlock without any session (no state file) exits 1 and creates no state file" {
  run --separate-stderr bsup unlock k
  [ "$status" -eq 1 ]
  [[ "$stderr" == *k* ]] || fail "stderr: $stderr"
  [ ! -e "$BSUP_STATE_FILE" ]
}

@test "unlock of a key held by another session exits 1 and says who holds it on stderr" {
  bsup_as A lock k
  run --separate-stderr bsup_as B unlock k
  [ "$status" -eq 1 ]
  [[ "$stderr" == *"$(session_in "$(state_of A)")"* ]] || fail "stderr: $stderr"
}

@test "unlock --json is one JSON document, for a release and for a refusal" {
  bsup_as A lock k
  run --separate-stderr bsup_as B unlock k --json
  [ "$status" -eq 1 ]
  assert_one_json "$output"
  echo "$output" | jqe '.released == false'
  run --separate-stderr bsup_as A unlock k --json
  [ "$status" -eq 0 ]
  assert_one_json "$output"
  echo "$output" | jqe '.released == true and .key == "k"'
}

@test "unlock --force breaks another session's lock; then another session can lock it" {
  bsup_as A lock k
  run bsup_as B unlock --force k
  [ "$status" -eq 0 ]
  run --separate-stderr bsup_as B status k --json
  echo "$output" | jqe '.is_acquired == false'
  run bsup_as C lock k
  [ "$status" -eq 0 ]
  # A no longer holds it.
  run bsup_as A unlock k
  [ "$status" -eq 1 ]
}

@test "unlock --force works without any session of one's own, and names the former holder" {
  bsup_as A lock k
  run bsup unlock k --force
  [ "$status" -eq 0 ]
  [[ "$output" == *"$(session_in "$(state_of A)")"* ]] || fail "output: $output"
}

@test "unlock --force of a free key exits 1" {
  run bsup unlock --force k
  [ "$status" -eq 1 ]
}

@test "unlock releases only the named key" {
  bsup lock k1
  bsup lock k2
  bsup unlock k1
  run --separate-stderr bsup status --json
  echo "$output" | jqe 'map(.key) == ["k2"]'
}
