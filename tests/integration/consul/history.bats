#!/usr/bin/env bats
# bsup history on the consul driver: events in KV under blacksmith-history/<key>/, written
# in the transaction of each change, bounded per key, never shown as locks; and unlock --reason.
load helpers

setup() { consul_setup; }
teardown() { consul_teardown; }

# The events of a key as "event session" lines, oldest first.
events_of() { bsup history "$1" --json | jq -r '.events[] | "\(.event) \(.session_id)"'; }
session_of() { jq -r .session_id "$BATS_TEST_TMPDIR/state-$1/state.json"; }
history_names() { consul_get "/v1/kv/blacksmith-history/$1/?keys&separator=/" | jq -r '.[]'; }

@test "grant and release are recorded in KV; a lock again adds nothing; lock_index is Consul's" {
  bsup_as a lock "$K" --lock-delay 0
  bsup_as a lock "$K"
  bsup_as a unlock "$K"
  a=$(session_of a)
  [ "$(events_of "$K")" = "grant $a
release $a" ]
  [ "$(history_names "$K" | wc -l)" -eq 2 ]
  index=$(consul_get "/v1/kv/blacksmith/$K" | jq '.[0].LockIndex')
  bsup history "$K" --json | jq -e --argjson i "$index" '(.events | length == 2)
    and (.events[0] | .acquirer_name == "bsup" and .lock_index == $i and .reason == null
         and (.time | test("\\.[0-9]{3}Z$")))
    and .events[1].lock_index == $i'
  # A second grant: the next LockIndex.
  bsup_as a lock "$K"
  bsup history "$K" --json | jq -e --argjson i "$index" '.events[-1] | .event == "grant"
    and .lock_index == $i + 1'
}

@test "unlock --force --reason: history k --json shows the forced break with its reason" {
  bsup_as a lock "$K" --lock-delay 0
  run bsup_as b unlock --force "$K" --reason "consul job 9 vanished"
  [ "$status" -eq 0 ]
  [[ $output == *"$(session_of a)"* ]]
  bsup history "$K" --json | jq .
  bsup history "$K" --json | jq -e --arg a "$(session_of a)" '.events[-1] |
    .event == "force" and .session_id == $a and .lock_index == 1
    and .reason == "consul job 9 vanished"'
  # Consul agrees: the key is free.
  consul_get "/v1/kv/blacksmith/$K" | jq -e '.[0].Session == null'
  run bsup_as a unlock "$K" --reason "no"
  [ "$status" -eq 2 ]
}

@test "history entries are no locks: outside the locks' prefix, status and deregister ignore them" {
  bsup_as a lock "$K" --lock-delay 0
  bsup_as a unlock "$K"
  bsup_as a lock "$K-2"
  run bsup status --json
  [ "$status" -eq 0 ]
  echo "$output" | jq -e 'all(.[]; (.key | test("history") | not))'
  # Nothing of the history under blacksmith/: a recursive read of the locks never carries it.
  [ "$(consul_get "/v1/kv/blacksmith/?keys" | jq -r '.[]' | grep -c history)" = 0 ]
  [ "$(history_names "$K" | wc -l)" -eq 2 ]
  echo "$output" | jq -e --arg k "$K-2" 'map(select(.key == $k)) | length == 1'
  run bsup_as a deregister
  [ "$status" -eq 0 ]
  [ "$(bsup history "$K-2" --json | jq -r '[.events[].event] | join(",")')" = "grant,release" ]
}

@test "an expiry is recorded when the next holder takes the key of an invalidated session" {
  bsup_as a lock "$K" --lock-delay 0
  a=$(session_of a)
  # Consul invalidates a lapsed session as it does a destroyed one: it releases the key and
  # keeps its value. (A TTL lapse takes up to 2 x 10s: expiry.bats covers that path.)
  consul_put "/v1/session/destroy/$(consul_session_of "$BATS_TEST_TMPDIR/state-a/state.json")" >/dev/null
  run bsup_as b lock "$K" --lock-delay 0
  [ "$status" -eq 0 ]
  b=$(session_of b)
  [ "$(events_of "$K")" = "grant $a
expiry $a
grant $b" ]
  bsup history "$K" --json | jq -e '.events[1].lock_index == 1 and .events[2].lock_index == 2'
}

@test "history of an unknown key is empty (exit 0); of key a, not of a/b; --limit" {
  run bsup history "$K/never" --json
  [ "$status" -eq 0 ]
  [ "$output" = '{"events":[]}' ]
  bsup lock "$K/sub" --lock-delay 0
  run bsup history "$K" --json
  [ "$output" = '{"events":[]}' ]
  bsup unlock "$K/sub"
  bsup lock "$K/sub"
  bsup history "$K/sub" --limit 2 --json | jq -e '[.events[].event] == ["release", "grant"]'
  bsup history --json | jq -e --arg k "$K/sub" '[.events[] | select(.key == $k)] | length == 3'
}

@test "the history of a key is bounded: about the newest 100 events are kept" {
  # 105 old entries, written straight into KV (as if after months of use).
  for i in $(seq 1 105); do
    printf -v name '%016d-0-00000000' "$i"
    consul_put "/v1/kv/blacksmith-history/$K/$name" \
      "{\"time\":\"2020-01-01T00:00:00.000Z\",\"key\":\"$K\",\"event\":\"grant\"}" >/dev/null
  done
  [ "$(history_names "$K" | wc -l)" -eq 105 ]
  # Every 10th grant (by LockIndex) trims the history to the newest 100.
  for _ in $(seq 1 10); do
    bsup lock "$K" --lock-delay 0
    [ "$(history_names "$K" | wc -l)" -le 100 ] && break
    bsup unlock "$K"
  done
  [ "$(history_names "$K" | wc -l)" -eq 100 ]
  # The oldest by name (time) went first; the grant just recorded stays.
  run history_names "$K"
  [[ "$output" != *"/0000000000000001-0-00000000"* ]]
  [[ "$output" != *"/0000000000000005-0-00000000"* ]]
  [ "$(bsup history "$K" --json --limit 1 | jq -r '.events[0].event')" = grant ]
}
