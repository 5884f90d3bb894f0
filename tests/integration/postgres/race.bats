#!/usr/bin/env bats
# Processes racing for one key, each with its own session (state file): exactly one wins each
# round, and the row in psql names the winner. Also run through PgBouncer in transaction mode.
load ../../lib/common
load pg

setup() { pg_setup; }

# race N ROUNDS: N processes lock one key at once, ROUNDS times; the winner unlocks.
race() {
  local n=$1 rounds=$2 k round i winners winner
  k=$(key)
  for i in $(seq 1 "$n"); do bsup_as "p$i" register --ttl 10m >/dev/null; done
  for round in $(seq 1 "$rounds"); do
    for i in $(seq 1 "$n"); do
      (
        rc=0
        bsup_as "p$i" lock "$k" -q || rc=$?
        echo "$rc" >"$BATS_TEST_TMPDIR/rc-$i"
      ) &
    done
    wait
    winners=0 winner=
    for i in $(seq 1 "$n"); do
      case $(cat "$BATS_TEST_TMPDIR/rc-$i") in
      0) winners=$((winners + 1)) winner=$i ;;
      1) ;;
      *) echo "round $round: process $i failed" >&2; return 1 ;;
      esac
    done
    if [ "$winners" -ne 1 ]; then
      echo "round $round: $winners winners" >&2
      return 1
    fi
    if [ $((round % 20)) -eq 0 ]; then
      [ "$(pg "select session_id from blacksmith_supervisor.locks where key = '$k' and is_acquired")" = "$(session_of "p$winner")" ]
    fi
    bsup_as "p$winner" unlock "$k" -q
  done
}

@test "two processes race for one key over 200 rounds: exactly one winner each" {
  race 2 200
}

@test "32 processes race for one key over 200 rounds: exactly one winner each" {
  race 32 200
}
