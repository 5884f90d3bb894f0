#!/usr/bin/env bats
# shellcheck disable=SC2154,SC2016
# Mutual exclusion under contention: 8 concurrent `bsup run --wait` workers, 200 runs in all.
#
# Driver-agnostic: with BSUP_CONNECTION unset this runs on the embedded sqlite default; the
# postgres and consul integration scripts run this same folder with BSUP_CONNECTION set to their
# server (and LIFE_TTL=10s for consul, whose minimum session TTL is 10s).
load ../lib/common
load helpers

setup() { life_setup; }
teardown() { life_teardown; }

lines_in() { [ -e "$1" ] && [ "$(wc -l <"$1")" -eq "$2" ]; }

@test "8 workers, 25 runs each: no two runs overlap and none is lost" {
  local workers=8 runs=25 w
  for ((w = 1; w <= workers; w++)); do
    (
      # Half the workers have a registered session (a state file); the others none, so that
      # every run starts and ends a session of its own.
      if ((w % 2)); then
        export BSUP_STATE_FILE
        BSUP_STATE_FILE=$(state_of "w$w")
        "$BSUP" register --ttl 30s -q
      else
        export BSUP_STATE_FILE="$D/none-$w/state.json"
      fi
      for ((i = 1; i <= runs; i++)); do
        "$BSUP" run "$K" --wait 60s -q -- sh -c \
          'echo "start $0" >> "$1"; sleep 0.05; echo "end $0" >> "$1"' "$w.$i" "$D/F" ||
          echo "worker $w run $i: exit $?" >>"$D/errors"
      done
      echo "$w" >>"$D/done"
    ) 3>&- &
    track $!
  done
  eventually 170 lines_in "$D/done" "$workers"

  [ ! -e "$D/errors" ] || fail "failed runs: $(cat "$D/errors")"
  local lines
  lines=$(wc -l <"$D/F")
  [ "$lines" -eq $((2 * workers * runs)) ] || fail "$lines lines, not $((2 * workers * runs))"
  # Strictly start, end, start, end..., each end closing the start just before it.
  awk '
    NR % 2 == 1 { if ($1 != "start") { print "line " NR ": " $0 " (expected a start)"; bad = 1; exit }
                  open = $2 }
    NR % 2 == 0 { if ($1 != "end" || $2 != open) {
                    print "line " NR ": " $0 " (expected end " open ")"; bad = 1; exit } }
    END { exit bad }' "$D/F" || fail "runs overlap: $(awk '{print NR": "$0}' "$D/F" | head -50)"
  # Every run of every worker is there once.
  [ "$(awk '$1 == "end" {print $2}' "$D/F" | sort -u | wc -l)" -eq $((workers * runs)) ] ||
    fail "some runs are missing or doubled"
  for state in "$D"/none-*/state.json; do
    [ ! -e "$state" ] || fail "a run without a session left $state"
  done
}
