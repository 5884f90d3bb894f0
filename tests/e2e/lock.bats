#!/usr/bin/env bats
# bats sets $stderr (run --separate-stderr) and $output.
# shellcheck disable=SC2154,SC2174,SC2030,SC2031,SC2016
# lock and unlock between two sessions (two state files, as two CI jobs have).
load ../lib/common
load helpers

setup() { common_setup; }

@test "A locks k (exit 0); B is refused (exit 1) and status names A's acquirer and session" {
  run bsup_as A lock k
  [ "$status" -eq 0 ]
  local a_session
  a_session=$(session_in "$(state_of A)")
  [ "${#a_session}" -eq 27 ]

  run bsup_as B lock k
  [ "$status" -eq 1 ]

  run bsup_as B status k
  [ "$status" -eq 0 ]
  [[ "$output" == *"$a_session"* ]] || fail "status does not name A's session $a_session: $output"
  [[ "$output" == *bsup* ]] || fail "status does not name the acquirer 'bsup': $output"
  [[ "$output" == *"$(hostname)"* ]] || fail "status does not name A's address: $output"

  run --separate-stderr bsup_as B status k --json
  [ "$status" -eq 0 ]
  echo "$output" | jqe --arg s "$a_session" --arg h "$(hostname)" \
    '.is_acquired == true and .session_id == $s and .acquirer_name == "bsup"
     and .acquirer_address == $h and .key == "k"'
}

@test "unlock k: B (not the holder) exits 1, A exits 0; then B can lock it" {
  bsup_as A lock k
  run bsup_as B unlock k
  [ "$status" -eq 1 ]
  run --separate-stderr bsup_as B status k --json
  echo "$output" | jqe '.is_acquired == true'

  run bsup_as A unlock k
  [ "$status" -eq 0 ]
  run bsup_as B lock k
  [ "$status" -eq 0 ]
  run --separate-stderr bsup_as A status k --json
  echo "$output" | jqe --arg s "$(session_in "$(state_of B)")" \
    '.is_acquired == true and .session_id == $s'
}

@test "B's refused lock says on stderr who holds the key, and nothing on stdout" {
  bsup_as A lock k
  run --separate-stderr bsup_as B lock k
  [ "$status" -eq 1 ]
  [ -z "$output" ] || fail "stdout is not empty: $output"
  [[ "$stderr" == *"$(session_in "$(state_of A)")"* ]] || fail "stderr: $stderr"
}

@test "locking a key this session holds succeeds and changes nothing" {
  bsup lock k
  local before after
  before=$(bsup status k --json)
  run bsup lock k
  [ "$status" -eq 0 ]
  after=$(bsup status k --json)
  echo "$before" | jqe '.is_acquired == true and (.lock_index | type == "number")'
  [ "$(jq -c 'del(.expires_at)' <<<"$before")" = "$(jq -c 'del(.expires_at)' <<<"$after")" ] ||
    fail "status changed: $before -> $after"
}

@test "lock without a state file starts a session named bsup at the host name, mode 0600" {
  [ ! -e "$BSUP_STATE_FILE" ]
  bsup lock k
  [ -f "$BSUP_STATE_FILE" ]
  run --separate-stderr bsup status k --json
  echo "$output" | jqe --arg s "$(session_in "$BSUP_STATE_FILE")" --arg h "$(hostname)" \
    '.session_id == $s and .acquirer_name == "bsup" and .acquirer_address == $h'
}

@test "lock_index grows with every new grant of a key" {
  bsup_as A lock k
  local i1 i2 i3
  i1=$(bsup_as A status k --json | jqe .lock_index)
  bsup_as A unlock k
  bsup_as A lock k
  i2=$(bsup_as A status k --json | jqe .lock_index)
  bsup_as A unlock k
  bsup_as B lock k
  i3=$(bsup_as B status k --json | jqe .lock_index)
  [ "$i1" -lt "$i2" ] && [ "$i2" -lt "$i3" ] || fail "lock_index did not grow: $i1 $i2 $i3"
}

@test "lock --json on success names the key, the session and acquired: true" {
  run --separate-stderr bsup lock k --json
  [ "$status" -eq 0 ]
  assert_one_json "$output"
  echo "$output" | jqe --arg s "$(session_in "$BSUP_STATE_FILE")" \
    '.key == "k" and .is_acquired == true and .acquired == true and .session_id == $s'
}

@test "lock --json on conflict is one JSON document with acquired: false and the holder" {
  bsup_as A lock k
  run --separate-stderr bsup_as B lock k --json
  [ "$status" -eq 1 ]
  assert_one_json "$output"
  echo "$output" | jqe --arg s "$(session_in "$(state_of A)")" \
    '.acquired == false and .session_id == $s'
}

@test "--conflict-exit-code 7 replaces the 1 of a refused lock, and not the 0 of a granted one" {
  run bsup_as A lock k --conflict-exit-code 7
  [ "$status" -eq 0 ]
  run bsup_as B lock k --conflict-exit-code 7
  [ "$status" -eq 7 ]
  run bsup_as B lock k
  [ "$status" -eq 1 ]
}

@test "--conflict-exit-code rejects values outside 0..255 (exit 2)" {
  run bsup lock k --conflict-exit-code 256
  [ "$status" -eq 2 ]
  run bsup lock k --conflict-exit-code -1
  [ "$status" -eq 2 ]
  run bsup lock k --conflict-exit-code seven
  [ "$status" -eq 2 ]
  [ ! -e "$BSUP_STATE_FILE" ]
}

@test "keys in Blacksmith's forms lock independently" {
  bsup_as A lock migrations/warehouse
  run bsup_as B lock triggers/source/trigger
  [ "$status" -eq 0 ]
  run bsup_as B lock actions/destination/action
  [ "$status" -eq 0 ]
  run bsup_as B lock migrations/warehouse
  [ "$status" -eq 1 ]
}
