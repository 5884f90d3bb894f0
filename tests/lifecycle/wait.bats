#!/usr/bin/env bats
# bats sets $stderr (run --separate-stderr), $output and $status.
# shellcheck disable=SC2154,SC2016
# lock --wait: the waiter wakes on release and on expiry, the deadline is absolute, Ctrl-C ends it.
#
# Driver-agnostic: with BSUP_CONNECTION unset this runs on the embedded sqlite default; the
# postgres and consul integration scripts run this same folder with BSUP_CONNECTION set to their
# server (and LIFE_TTL=10s for consul, whose minimum session TTL is 10s).
load ../lib/common
load helpers

setup() { life_setup; }
teardown() { life_teardown; }

@test "a waiter acquires soon after the holder unlocks, and status names its session" {
  bsup_as A lock "$K"
  bsup_bg_as B lock "$K" --wait 20s --json
  local waiter=$BG_PID
  sleep 1
  alive "$waiter" || fail "the waiter did not wait: $(cat "$D/B.out" "$D/B.err")"
  is_held_by "$K" "$(session_in "$(state_of A)")"

  bsup_as A unlock "$K"
  wait_exit 5 "$waiter"
  [ "$RC" -eq 0 ] || fail "waiter exit $RC: $(cat "$D/B.out" "$D/B.err")"
  local b
  b=$(session_in "$(state_of B)")
  jqe --arg s "$b" '.acquired == true and .session_id == $s' <"$D/B.out"
  is_held_by "$K" "$b"
}

@test "the --wait deadline holds while two other sessions churn the key" {
  # C and D take and give back the key as fast as they can for the whole test.
  local who
  for who in C D; do
    (
      export BSUP_STATE_FILE
      BSUP_STATE_FILE=$(state_of "$who")
      while [[ ! -e $D/stop ]]; do
        if "$BSUP" lock "$K" --wait 2s -q 2>/dev/null; then
          echo "$who" >>"$D/grants"
          sleep 0.02
          "$BSUP" unlock "$K" -q 2>/dev/null || true
        fi
      done
    ) 3>&- &
    track $!
  done
  eventually 10 test -s "$D/grants"

  # The waiter often wins the key at one of the hand-offs (then it gives it back and waits again):
  # exit 0 or 1 are both right. What must never happen is a wait that outlives its deadline, nor
  # one that ends early without the key. The waits go on for 8 s in all, while the key changes hands.
  local attempt=0 rc started elapsed before total=0 churn_until
  churn_until=$(($(now_ms) + 8000))
  while (($(now_ms) < churn_until)); do
    attempt=$((attempt + 1))
    before=$(wc -l <"$D/grants")
    started=$(now_ms)
    rc=0
    timeout 30 "$BSUP" lock "$K" --wait 3s --state-file "$(state_of W)" -q || rc=$?
    elapsed=$(($(now_ms) - started))
    total=$((total + $(wc -l <"$D/grants") - before))
    [[ $rc -eq 0 || $rc -eq 1 ]] || fail "attempt $attempt: exit $rc (124: still waiting after 30s)"
    ((elapsed < 3000 + 4000)) || fail "attempt $attempt took ${elapsed} ms with --wait 3s"
    ((rc == 0 || elapsed >= 2900)) || fail "attempt $attempt gave up after ${elapsed} ms"
    if ((rc == 0)); then
      "$BSUP" unlock "$K" --state-file "$(state_of W)" -q
    fi
  done
  touch "$D/stop"
  # The test means something only if the key changed hands while the waiter waited.
  ((total >= 2)) || fail "the key changed hands only $total times during the waits"
}

@test "out of time: exit 1, the --json says how long it waited and who holds the key" {
  bsup_as A lock "$K"
  local a
  a=$(session_in "$(state_of A)")

  run --separate-stderr bsup_as B lock "$K" --wait 1s --json
  [ "$status" -eq 1 ]
  echo "$output" | jqe --arg s "$a" \
    '.acquired == false and .is_acquired == true and .session_id == $s
     and (.waited_ms | type == "number" and . >= 950 and . < 1000 + 4000)'
  [[ $stderr == *"$a"* ]] || fail "stderr does not name the holder $a: $stderr"

  run bsup_as B lock "$K" --wait 1s --conflict-exit-code 7
  [ "$status" -eq 7 ]
  is_held_by "$K" "$a"
}

@test "Ctrl-C while waiting: exit 130 at once, and the --json error document" {
  bsup_as A lock "$K"
  bsup_bg_as B lock "$K" --wait 60s --json
  local waiter=$BG_PID
  sleep 1
  alive "$waiter" || fail "the waiter did not wait: $(cat "$D/B.out" "$D/B.err")"
  kill -INT "$waiter"
  wait_exit 5 "$waiter"
  [ "$RC" -eq 130 ] || fail "exit $RC after SIGINT"
  [ "$(jq -s length <"$D/B.out")" -eq 1 ] || fail "not one JSON document: $(cat "$D/B.out")"
  jqe '.error.code == "interrupted" and .error.exit_code == 130
       and (.error.message | length > 0)' <"$D/B.out"
  # The holder was not disturbed.
  is_held_by "$K" "$(session_in "$(state_of A)")"
}

@test "Ctrl-C while run waits: exit 130 and the command never runs" {
  bsup_as A lock "$K"
  bsup_bg_as B run "$K" --wait 60s -- touch "$D/ran"
  local waiter=$BG_PID
  sleep 1
  alive "$waiter" || fail "run did not wait: $(cat "$D/B.out" "$D/B.err")"
  kill -INT "$waiter"
  wait_exit 5 "$waiter"
  [ "$RC" -eq 130 ] || fail "exit $RC after SIGINT"
  [[ $(cat "$D/B.err") == *interrupted* ]] || fail "stderr: $(cat "$D/B.err")"
  [ ! -e "$D/ran" ] || fail "the command ran"
}

@test "a waiter acquires when the holder's session lapses (no renewal)" {
  bsup_as A lock "$K" --ttl "$LIFE_TTL"
  local a started
  a=$(session_in "$(state_of A)")
  started=$(now_ms)
  # Consul may take up to twice the TTL to invalidate a session, then keeps the key from being
  # taken for the session's lock delay.
  bsup_bg_as B lock "$K" --wait "$((3 * TTL_S + LOCK_DELAY_S + 10))s" --json
  local waiter=$BG_PID
  wait_exit $((2 * TTL_S + LOCK_DELAY_S + 10)) "$waiter"
  [ "$RC" -eq 0 ] || fail "waiter exit $RC: $(cat "$D/B.out" "$D/B.err")"
  local b
  b=$(session_in "$(state_of B)")
  jqe --arg s "$b" '.acquired == true and .session_id == $s' <"$D/B.out"
  is_held_by "$K" "$b"
  # It did not take the key before A's TTL ran out.
  (($(now_ms) - started >= TTL_S * 1000 - 1000)) || fail "acquired before A's TTL ran out"
}
