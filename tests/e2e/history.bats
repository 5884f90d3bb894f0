#!/usr/bin/env bats
# bats sets $stderr (run --separate-stderr) and $output.
# shellcheck disable=SC2154,SC2174,SC2030,SC2031,SC2016
# bsup history on the sqlite driver: grants, releases, expiries and forced breaks (with their
# reason), newest last, bounded; and unlock --reason.
load ../lib/common
load helpers

setup() {
  common_setup
  export BSUP_MIN_TTL=1s
}

# One SQL statement on a database file, its rows printed '|'-separated (Python's sqlite3 module:
# the sqlite3 shell is no dependency of the tests).
sql() {
  python3 - "$1" "$2" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for row in db.execute(sys.argv[2]):
    print("|".join(str(v) for v in row))
db.commit()
PY
}

# The events of a key as "event session" lines, oldest first.
events_of() { bsup history "$1" --json | jq -r '.events[] | "\(.event) \(.session_id)"'; }

@test "a grant, a lock again by the holder (no event) and a release are recorded in order" {
  bsup_as A lock k
  bsup_as A lock k
  bsup_as A unlock k
  a=$(session_in "$(state_of A)")
  [ "$(events_of k)" = "grant $a
release $a" ]
  run --separate-stderr bsup history k --json
  [ "$status" -eq 0 ]
  assert_one_json "$output"
  echo "$output" | jqe --arg a "$a" '(.events | length == 2)
    and (.events[0] | keys_unsorted == ["time", "key", "event", "session_id", "acquirer_name",
                                        "acquirer_address", "lock_index", "reason"])
    and (.events[0] | .key == "k" and .acquirer_name == "bsup" and .lock_index == 1
         and .reason == null and (.time | test("^[0-9-]+T[0-9:]+\\.[0-9]{3}Z$")))
    and .events[1].lock_index == 1'
}

@test "unlock --force --reason: history k --json shows the forced break with its reason" {
  bsup_as A lock k
  a=$(session_in "$(state_of A)")
  run --separate-stderr bsup_as B unlock --force k --reason "job 4711 was killed; see INC-12"
  [ "$status" -eq 0 ]
  [[ $output == *"$a"* ]] || fail "output: $output"
  run --separate-stderr bsup history k --json
  [ "$status" -eq 0 ]
  echo "$output" | jq .
  echo "$output" | jqe --arg a "$a" '.events[-1] | .event == "force" and .session_id == $a
    and .reason == "job 4711 was killed; see INC-12" and .lock_index == 1'
  # The text table names the event and the reason.
  run --separate-stderr bsup history k
  [ "$status" -eq 0 ]
  [[ ${lines[0]} == TIME*EVENT*KEY* ]] || fail "header: ${lines[0]}"
  [[ ${lines[2]} == *force*"job 4711 was killed; see INC-12"* ]] || fail "output: $output"
}

@test "unlock --force without --reason records a forced break with a null reason" {
  bsup_as A lock k
  bsup unlock --force k
  bsup history k --json | jqe '.events[-1] | .event == "force" and .reason == null'
}

@test "--reason without --force is a usage error (exit 2) and releases nothing" {
  bsup_as A lock k
  run --separate-stderr bsup_as A unlock k --reason "why not"
  [ "$status" -eq 2 ]
  bsup status k --json | jqe '.is_acquired == true'
  [ "$(bsup history k --json | jq '.events | length')" -eq 1 ]
  run --separate-stderr bsup_as A unlock k --reason "why not" --json
  [ "$status" -eq 2 ]
  assert_json_error "$output" 2
}

@test "a --reason longer than 1024 bytes is a usage error (exit 2); 1024 bytes is fine" {
  bsup_as A lock k
  run --separate-stderr bsup unlock --force k --reason "$(printf 'x%.0s' {1..1025})"
  [ "$status" -eq 2 ]
  bsup status k --json | jqe '.is_acquired == true'
  run --separate-stderr bsup unlock --force k --reason "$(printf 'y%.0s' {1..1024})"
  [ "$status" -eq 0 ]
  bsup history k --json | jqe '.events[-1].reason | length == 1024'
}

@test "an expiry is recorded when bsup observes it: the next holder's grant" {
  bsup_as A lock k --ttl 1s
  a=$(session_in "$(state_of A)")
  b_takes_k() { bsup_as B lock k -q 2>/dev/null; }
  eventually 15 b_takes_k
  b=$(session_in "$(state_of B)")
  [ "$(events_of k)" = "grant $a
expiry $a
grant $b" ]
  bsup history k --json | jqe '.events[1].lock_index == 1 and .events[2].lock_index == 2'
}

@test "an expiry is recorded when a new session cleans up lapsed ones" {
  bsup_as A lock k --ttl 1s
  a=$(session_in "$(state_of A)")
  sleep 2
  bsup_as B register
  [ "$(events_of k)" = "grant $a
expiry $a" ]
}

@test "deregister records the release of each key it held" {
  bsup_as A lock k1
  bsup_as A lock k2
  a=$(session_in "$(state_of A)")
  bsup_as A deregister
  [ "$(events_of k1)" = "grant $a
release $a" ]
  [ "$(events_of k2)" = "grant $a
release $a" ]
}

@test "history without a key shows every key, oldest first; --limit keeps the newest" {
  bsup lock a
  bsup lock b
  bsup unlock a
  run --separate-stderr bsup history --json
  [ "$status" -eq 0 ]
  echo "$output" | jqe '[.events[] | "\(.event) \(.key)"] == ["grant a", "grant b", "release a"]'
  run --separate-stderr bsup history --limit 2 --json
  echo "$output" | jqe '[.events[] | "\(.event) \(.key)"] == ["grant b", "release a"]'
  run --separate-stderr bsup history -n 1 a --json
  echo "$output" | jqe '[.events[] | "\(.event) \(.key)"] == ["release a"]'
}

@test "history of an unknown key is empty, exit 0; of a fresh database too" {
  run --separate-stderr bsup history never/seen --json
  [ "$status" -eq 0 ]
  echo "$output" | jqe '. == {"events": []}'
  run --separate-stderr bsup history
  [ "$status" -eq 0 ]
  [[ $output == "no events" ]] || fail "output: $output"
  run --separate-stderr bsup history never/seen
  [ "$status" -eq 0 ]
}

@test "history of key a does not show the events of a/b" {
  bsup lock a/b
  run --separate-stderr bsup history a --json
  echo "$output" | jqe '.events == []'
}

@test "history rejects an invalid key and a bad --limit (exit 2)" {
  run --separate-stderr bsup history /bad
  [ "$status" -eq 2 ]
  run --separate-stderr bsup history --limit 0
  [ "$status" -eq 2 ]
  run --separate-stderr bsup history --limit 10001
  [ "$status" -eq 2 ]
}

@test "the history is bounded: the newest 10000 events are kept, the oldest dropped" {
  bsup lock k
  db=$(default_db)
  # 10005 old events, written straight into the table (as if after months of use).
  sql "$db" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10005)
    INSERT INTO events (at_ms, key, event, session_id) SELECT i, 'old', 'grant', 'x' FROM n"
  [ "$(sql "$db" 'SELECT count(*) FROM events')" -eq 10006 ]
  bsup unlock k
  [ "$(sql "$db" 'SELECT count(*) FROM events')" -eq 10000 ]
  # The oldest went first (k's grant and the 6 oldest of "old"); the release just recorded stays.
  [ "$(bsup history k --json | jq -r '[.events[].event] | join(",")')" = release ]
  [ "$(sql "$db" "SELECT min(at_ms) FROM events WHERE key = 'old'")" -eq 7 ]
}

@test "an older database (schema 1) is migrated and keeps its locks" {
  bsup_as A lock k
  db=$(default_db)
  sql "$db" 'DROP TABLE events'
  sql "$db" 'PRAGMA user_version = 1'
  run bsup_as A unlock k
  [ "$status" -eq 0 ]
  [ "$(sql "$db" 'PRAGMA user_version')" -eq 2 ]
  bsup history k --json | jqe '[.events[].event] == ["release"]'
}
