#!/usr/bin/env bats
# Mutual exclusion under contention: 32 processes, each its own session (state file), race for
# one key over 200 rounds; Consul must grant it to exactly one of them each round.
load helpers

setup() { consul_setup; }
teardown() { consul_teardown; }

@test "32 processes race for one key over 200 rounds: exactly one winner each round" {
  local procs=32 rounds=200 round i winners winner
  for ((i = 0; i < procs; i++)); do
    bsup_as "$i" register --ttl 10m --lock-delay 0 >/dev/null 2>&1
  done
  for ((round = 0; round < rounds; round++)); do
    rm -f "$BATS_TEST_TMPDIR"/rc.*
    for ((i = 0; i < procs; i++)); do
      (
        rc=0
        bsup_as "$i" lock "$K" --lock-delay 0 >/dev/null 2>&1 || rc=$?
        echo "$rc" >"$BATS_TEST_TMPDIR/rc.$i"
      ) &
    done
    wait
    winners=0
    winner=
    for ((i = 0; i < procs; i++)); do
      case $(cat "$BATS_TEST_TMPDIR/rc.$i") in
      0) winners=$((winners + 1)); winner=$i ;;
      1) ;;
      *) echo "round $round: process $i exited $(cat "$BATS_TEST_TMPDIR/rc.$i")"; return 1 ;;
      esac
    done
    if [ "$winners" -ne 1 ]; then
      echo "round $round: $winners winners"
      return 1
    fi
    bsup_as "$winner" unlock "$K" >/dev/null
  done
}
