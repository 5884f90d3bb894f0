#!/usr/bin/env bats
# bats sets $stderr (run --separate-stderr) and $output.
# shellcheck disable=SC2154,SC2174,SC2030,SC2031,SC2016
# status: one key (an object), several keys or none (an array), -e.
load ../lib/common
load helpers

setup() { common_setup; }

@test "status k --json: is_acquired and a 27-character KSUID session" {
  bsup lock k
  run --separate-stderr bsup status k --json
  [ "$status" -eq 0 ]
  echo "$output" | jqe '.is_acquired == true and (.session_id | length == 27)'
  echo "$output" | jqe '.session_id | test("^[0-9A-Za-z]{27}$")'
}

@test "status of a held key has lock_index, acquired_at and expires_at (RFC 3339, UTC)" {
  bsup lock k
  run --separate-stderr bsup status k --json
  echo "$output" | jqe '
      (.lock_index | type == "number")
      and (.acquired_at | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?Z$"))
      and (.expires_at | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?Z$"))
      and .expires_at > .acquired_at'
}

@test "status of a held key keeps Blacksmith's field names in order, then bsup's" {
  bsup lock k
  run --separate-stderr bsup status k --json
  echo "$output" | jqe '[keys_unsorted[]] | .[0:9] == ["key", "is_applicable", "is_acquired",
      "acquirer_name", "acquirer_address", "session_id", "lock_index", "acquired_at",
      "expires_at"]'
}

@test "status of a free key: is_acquired false, and the three strings are left out" {
  run --separate-stderr bsup status k --json
  [ "$status" -eq 0 ]
  echo "$output" | jqe '.key == "k" and .is_acquired == false
      and (has("acquirer_name") | not) and (has("acquirer_address") | not)
      and (has("session_id") | not)'
}

@test "status -e exits 1 for a free key and 0 for a held one" {
  run bsup status -e k
  [ "$status" -eq 1 ]
  run bsup status --exit-status k
  [ "$status" -eq 1 ]
  bsup lock k
  run bsup status -e k
  [ "$status" -eq 0 ]
  run bsup status -e k other
  [ "$status" -eq 1 ]
}

@test "status without -e exits 0 for a free key" {
  run bsup status k
  [ "$status" -eq 0 ]
}

@test "status with no key prints an array of the held keys" {
  run --separate-stderr bsup status --json
  [ "$status" -eq 0 ]
  echo "$output" | jqe '. == []'
  bsup_as A lock k1
  bsup_as B lock k2
  bsup_as B lock k3
  bsup_as B unlock k3
  run --separate-stderr bsup status --json
  [ "$status" -eq 0 ]
  echo "$output" | jqe 'type == "array" and (map(.key) | sort) == ["k1", "k2"]
      and all(.[]; .is_acquired == true)'
}

@test "status with two keys prints an array, in the order asked, free keys included" {
  bsup lock k2
  run --separate-stderr bsup status k2 k1 --json
  [ "$status" -eq 0 ]
  echo "$output" | jqe 'type == "array" and map(.key) == ["k2", "k1"]
      and map(.is_acquired) == [true, false]'
}

@test "status with one key prints an object" {
  run --separate-stderr bsup status k --json
  echo "$output" | jqe 'type == "object"'
}

@test "status as SPEC's script example: jq picks the held keys" {
  bsup lock a/b
  run bash -c '"$BSUP" status --json | jq -r ".[] | select(.is_acquired) | .key"'
  [ "$status" -eq 0 ]
  [ "$output" = "a/b" ]
}

@test "status text: a table that names the holder, or says that nothing is held" {
  run bsup status
  [ "$status" -eq 0 ]
  [ -n "$output" ]
  bsup lock k
  run bsup status
  [[ "$output" == *k* && "$output" == *"$(session_in "$BSUP_STATE_FILE")"* ]] ||
    fail "output: $output"
}

@test "status does not start a session or write a state file" {
  run bsup status k
  [ "$status" -eq 0 ]
  [ ! -e "$BSUP_STATE_FILE" ]
}
