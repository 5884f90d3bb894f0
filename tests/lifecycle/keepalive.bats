#!/usr/bin/env bats
# bats sets $output and $status.
# shellcheck disable=SC2154,SC2016
# --keepalive: a heartbeat renews the session while the calling shell lives, and stops with it.
#
# Driver-agnostic: with BSUP_CONNECTION unset this runs on the embedded sqlite default; the
# postgres and consul integration scripts run this same folder with BSUP_CONNECTION set to their
# server (and LIFE_TTL=10s for consul, whose minimum session TTL is 10s).
load ../lib/common
load helpers

setup() {
  life_setup
  H=$(state_of H) # the holder's state file
}
teardown() { life_teardown; }

has_heartbeat() { [[ -n $(heartbeats_of "$1") ]]; }

# A parent shell (the CI job) that locks $K with a short TTL and --keepalive, then lives as
# `sleep $1` (exec, so that the watched PID stays the same). Sets PARENT.
start_parent() {
  BSUP_STATE_FILE=$H bash -c \
    '"$BSUP" lock "$1" --ttl "$2" --keepalive -q || exit; exec sleep "$3"' \
    parent "$K" "$LIFE_TTL" "$1" 3>&- &
  PARENT=$!
  track "$PARENT"
  eventually 10 test -s "$H"
  eventually 10 is_held_by "$K" "$(session_in "$H")"
  eventually 10 has_heartbeat "$H"
}

@test "the key stays held for several TTLs while the parent shell lives" {
  start_parent $((4 * TTL_S + 30))
  local holder until
  holder=$(session_in "$H")
  until=$(($(now_ms) + 3 * TTL_S * 1000))
  while (($(now_ms) < until)); do
    is_held_by "$K" "$holder" || fail "the key was lost while the parent lived"
    sleep 1
  done
  alive "$PARENT"
  is_held_by "$K" "$holder"
  run --separate-stderr env BSUP_STATE_FILE="$H" "$BSUP" status "$K" --json
  [ "$status" -eq 0 ]
  echo "$output" | jqe --arg s "$holder" '.session_id == $s and .keepalive == true'
  # Another session sees no keepalive field: it is not its session.
  run --separate-stderr bsup_as B status "$K" --json
  echo "$output" | jqe 'has("keepalive") | not'
}

@test "the parent killed with SIGKILL: the heartbeat stops and the key frees itself" {
  start_parent 1000
  local beat
  beat=$(heartbeats_of "$H")
  kill -KILL "$PARENT"
  eventually $((TTL_S + 5)) not_alive "$beat"
  # Consul may take up to twice the TTL to invalidate a session.
  eventually $((2 * TTL_S + 5)) is_free "$K"
  # Another session takes it (after the backend's lock delay for a lapsed holder, if any).
  run bsup_as B lock "$K" --wait "$((LOCK_DELAY_S + 5))s"
  [ "$status" -eq 0 ]
}

@test "bsup unlock stops the heartbeat, since the session holds no key any more" {
  start_parent 1000
  local beat
  beat=$(heartbeats_of "$H")
  BSUP_STATE_FILE=$H bsup unlock "$K"
  eventually $((TTL_S + 5)) not_alive "$beat"
  is_free "$K"
  alive "$PARENT" # the heartbeat stopped for the unlock, not because the parent ended
}

@test "register --keepalive keeps a session and its keys alive; deregister stops it" {
  BSUP_STATE_FILE=$H bash -c \
    '"$BSUP" register --ttl "$1" --keepalive -q || exit; exec sleep 1000' parent "$LIFE_TTL" 3>&- &
  PARENT=$!
  track "$PARENT"
  eventually 10 has_heartbeat "$H"
  local beat
  beat=$(heartbeats_of "$H")
  BSUP_STATE_FILE=$H bsup lock "$K" -q
  local holder
  holder=$(session_in "$H")
  sleep $((2 * TTL_S + 1))
  is_held_by "$K" "$holder" || fail "the registered session lapsed despite its keepalive"

  BSUP_STATE_FILE=$H bsup deregister -q
  eventually $((TTL_S + 5)) not_alive "$beat"
  is_free "$K"
}
