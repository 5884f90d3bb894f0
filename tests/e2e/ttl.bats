#!/usr/bin/env bats
# bats sets $stderr (run --separate-stderr) and $output.
# shellcheck disable=SC2154,SC2174,SC2030,SC2031,SC2016
# A session whose TTL lapsed holds nothing. BSUP_MIN_TTL lowers the 10s floor for tests (never
# below 1s), so that these wait seconds, not minutes.
load ../lib/common
load helpers

setup() {
  common_setup
  export BSUP_MIN_TTL=1s
}

status_shows_nothing_held() { [ "$(bsup status --json | jq length)" -eq 0 ]; }
b_can_lock() { bsup_as B lock "$1" -q; }

@test "a session whose TTL lapsed holds nothing; another session can take its keys" {
  bsup_as A lock k1 --ttl 1s
  bsup_as A lock k2
  eventually 15 status_shows_nothing_held
  run --separate-stderr bsup status k1 k2 --json
  echo "$output" | jqe 'map(.is_acquired) == [false, false]'
  eventually 15 b_can_lock k1
  run --separate-stderr bsup status k1 --json
  echo "$output" | jqe --arg s "$(session_in "$(state_of B)")" '.session_id == $s'
  # A no longer holds it: its unlock is refused
  run bsup_as A unlock k1
  [ "$status" -eq 1 ]
}

@test "a lapsed session held its key until it lapsed (ttl 2s)" {
  bsup_as A lock k --ttl 2s
  run --separate-stderr bsup_as A status k --json
  echo "$output" | jqe '.is_acquired == true'
  eventually 15 b_can_lock k
}

@test "after its session lapsed, a lock starts a new session and says so" {
  bsup lock k --ttl 1s
  local old
  old=$(session_in "$BSUP_STATE_FILE")
  eventually 15 status_shows_nothing_held
  run --separate-stderr bsup lock k
  [ "$status" -eq 0 ]
  local new
  new=$(session_in "$BSUP_STATE_FILE")
  [ "$new" != "$old" ] || fail "still session $old"
  run --separate-stderr bsup status k --json
  echo "$output" | jqe --arg s "$new" '.session_id == $s'
}

@test "renew keeps a short session alive past its TTL" {
  bsup lock k --ttl 2s
  local _
  for _ in 1 2 3 4 5 6; do
    sleep 0.5
    bsup renew -q
  done
  # 3s passed, more than the TTL; renewed every 0.5s, it still holds the key
  run bsup status -e k
  [ "$status" -eq 0 ]
  run --separate-stderr bsup status k --json
  echo "$output" | jqe --arg s "$(session_in "$BSUP_STATE_FILE")" '.session_id == $s'
}

@test "renew of a lapsed session exits non-zero" {
  bsup lock k --ttl 1s
  eventually 15 status_shows_nothing_held
  run bsup renew
  [ "$status" -ne 0 ]
}

@test "BSUP_MIN_TTL never goes below 1s" {
  BSUP_MIN_TTL=0s run bsup lock k --ttl 500ms
  [ "$status" -eq 2 ]
}

@test "without BSUP_MIN_TTL, a TTL under 10s is a usage error" {
  unset BSUP_MIN_TTL
  run bsup lock k --ttl 1s
  [ "$status" -eq 2 ]
  [ ! -e "$BSUP_STATE_FILE" ]
}

# Seconds from now until the expires_at of key $1.
seconds_left() {
  local expires
  expires=$(bsup status "$1" --json | jq -r .expires_at)
  echo $(($(date -d "$expires" +%s) - $(date +%s)))
}

@test "the session a lock starts has the TTL asked for, 15m by default" {
  unset BSUP_MIN_TTL
  bsup_as A lock k1 --ttl 1m
  local left
  left=$(seconds_left k1)
  [ "$left" -ge 40 ] && [ "$left" -le 61 ] || fail "k1 expires in ${left}s, asked 1m"
  bsup_as B lock k2
  left=$(seconds_left k2)
  [ "$left" -ge 840 ] && [ "$left" -le 901 ] || fail "k2 expires in ${left}s, default 15m"
}
