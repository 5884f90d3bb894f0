#!/usr/bin/env bats
# bats sets $stderr (run --separate-stderr) and $output.
# shellcheck disable=SC2154,SC2174,SC2030,SC2031,SC2016
# Many processes with their own state files (as many CI jobs) race for one key.
load ../lib/common
load helpers

setup() { common_setup; }

# Runs $1 rounds of $2 processes racing for key $3; each round exactly one must exit 0 and the
# others 1. The winner releases the key between rounds.
race() {
  local rounds=$1 racers=$2 key=$3
  local round i winners winner rc
  local -a pids
  for ((i = 1; i <= racers; i++)); do
    mkdir -p -m 700 "$(dirname "$(state_of "$i")")"
  done
  for ((round = 1; round <= rounds; round++)); do
    pids=()
    for ((i = 1; i <= racers; i++)); do
      # started straight from this shell (no function, no subshell): one fork per racer
      BSUP_STATE_FILE="$BATS_TEST_TMPDIR/state-$i/state.json" "$BSUP" lock "$key" -q &
      pids[i]=$!
    done
    winners=0
    winner=
    for ((i = 1; i <= racers; i++)); do
      rc=0
      wait "${pids[i]}" || rc=$?
      case $rc in
      0)
        winners=$((winners + 1))
        winner=$i
        ;;
      1) ;;
      *) fail "round $round: racer $i exited $rc" ;;
      esac
    done
    [ "$winners" -eq 1 ] || fail "round $round: $winners winners"
    # The winner holds it, as status says (every 10th round, to keep the suite fast).
    ((round % 10 != 1)) || [ "$(bsup status "$key" --json | jq -r .session_id)" = "$(session_in "$(state_of "$winner")")" ] ||
      fail "round $round: status does not name racer $winner"
    bsup_as "$winner" unlock "$key" -q || fail "round $round: the winner could not unlock"
  done
}

@test "16 processes with 16 state files race for one key, 200 rounds: exactly one wins each" {
  race "${BSUP_RACE_ROUNDS:-200}" 16 migrations/race
}

@test "every racer's session is distinct, and lock_index grew once per round" {
  race 10 8 k
  local sessions
  sessions=$(for i in 1 2 3 4 5 6 7 8; do session_in "$(state_of "$i")"; done | sort -u | wc -l)
  [ "$sessions" -eq 8 ]
  bsup_as 1 lock k
  local index
  index=$(bsup status k --json | jq .lock_index)
  [ "$index" -ge 11 ] || fail "lock_index $index after 11 grants"
}
