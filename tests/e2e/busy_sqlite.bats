#!/usr/bin/env bats
# bats sets $stderr (run --separate-stderr) and $output.
# shellcheck disable=SC2154
# The sqlite driver while another process holds the database's write lock: bsup retries (its own
# busy handler, drivers/sqlite/database.cpp: short pauses first) until --timeout, then exits 3
# with a clear error, and leaves nothing behind.
load ../lib/common
load helpers

setup() {
  common_setup
  db="$BATS_TEST_TMPDIR/db/bsup.db"
  export BSUP_CONNECTION="sqlite:$db"
  bsup status k >/dev/null # creates the database, in WAL mode
}

teardown() {
  if [[ -n ${holder:-} ]]; then
    kill "$holder" 2>/dev/null || true
    wait "$holder" 2>/dev/null || true
  fi
}

# Holds the database's write lock for SECONDS in another process (Python's sqlite3 module);
# returns once it holds it.
hold_write_lock() {
  local out="$BATS_TEST_TMPDIR/holder.out"
  : >"$out"
  python3 - "$db" "$1" >"$out" <<'PY' &
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("ROLLBACK")
PY
  holder=$!
  until grep -q locked "$out"; do sleep 0.02; done
}

@test "a write lock held past --timeout: exit 3, it says so, and the key stays free" {
  hold_write_lock 30
  run --separate-stderr bsup --timeout 500ms lock k
  [ "$status" -eq 3 ]
  [[ $stderr == *"stayed locked by another process past --timeout (500ms)"* ]]
  [ ! -e "$BSUP_STATE_FILE" ] || jq -e . "$BSUP_STATE_FILE" >/dev/null
  kill "$holder"
  wait "$holder" || true
  holder=
  run bsup_as b lock k
  [ "$status" -eq 0 ]
}

@test "a write lock held for a moment: bsup waits for it within --timeout and gets the key" {
  hold_write_lock 0.5
  run bsup --timeout 20s lock k
  [ "$status" -eq 0 ]
  run bsup status k --json
  jq -e '.is_acquired' <<<"$output"
}
