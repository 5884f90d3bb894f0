#!/usr/bin/env bats
# --wait on the sqlite driver: the waiter sleeps on inotify events of the database's folder
# (drivers/sqlite/change_watch.cpp), not on a poll; tests/lifecycle has the driver-agnostic tests.
load ../lib/common
load helpers

setup() { common_setup; }

@test "the deadline holds while another program writes in the database's folder all the time" {
  db_dir="$BATS_TEST_TMPDIR/db"
  mkdir -p "$db_dir"
  export BSUP_CONNECTION="sqlite:$db_dir/bsup.db"
  bsup lock k
  # A writer that never pauses: every write is an inotify event for the waiter.
  (while :; do echo x >>"$db_dir/noise"; done) &
  writer=$!
  start=$SECONDS
  run bsup_as b lock k --wait 2s
  kill "$writer"
  [ "$status" -eq 1 ]
  [ $((SECONDS - start)) -le 12 ] # 2s, and a generous margin for a loaded machine
}

@test "a waiter sleeps between changes: a few dozen checks in two idle seconds, not thousands" {
  export BSUP_CONNECTION="sqlite:$BATS_TEST_TMPDIR/db/bsup.db"
  bsup lock k
  # LeakSanitizer cannot work under ptrace: no leak check for this run of a sanitized build.
  run strace -f -c -e trace=poll,pread64 -o "$BATS_TEST_TMPDIR/calls" \
    env ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" "$BSUP" \
    --state-file "$BATS_TEST_TMPDIR/b.json" lock k --wait 2s
  [ "$status" -eq 1 ]
  polls=$(awk '$NF == "poll" { print $4 }' "$BATS_TEST_TMPDIR/calls")
  echo "polls: $polls"
  [ "$polls" -ge 5 ] && [ "$polls" -le 200 ]
}
