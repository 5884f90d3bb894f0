#!/usr/bin/env bats
# bsup history on the postgres driver: the events table beside blacksmith_supervisor.locks,
# written by the statement of each change, bounded; and unlock --force --reason.
load ../../lib/common
load pg
bats_require_minimum_version 1.5.0

setup() {
  pg_setup
  export BSUP_MIN_TTL=1s
}

# The events of a key as "event session" lines, oldest first.
events_of() { bsup history "$1" --json | jq -r '.events[] | "\(.event) \(.session_id)"'; }

@test "grant and release are recorded, in the events table too; a lock again adds nothing" {
  k=$(key)
  bsup_as a lock "$k"
  bsup_as a lock "$k"
  bsup_as a unlock "$k"
  a=$(session_of a)
  [ "$(events_of "$k")" = "grant $a
release $a" ]
  [ "$(pg "select string_agg(event, ',' order by id) from blacksmith_supervisor.bsup_events where key = '$k'")" = "grant,release" ]
  run bsup history "$k" --json
  [ "$status" -eq 0 ]
  echo "$output" | jq -e '(.events | length == 2) and (.events[0] | .acquirer_name == "bsup"
    and (.lock_index | type == "number") and .reason == null and (.time | test("\\.[0-9]{3}Z$")))
    and .events[0].lock_index == .events[1].lock_index'
}

@test "unlock --force --reason: history k --json shows the forced break with its reason" {
  k=$(key)
  bsup_as a lock "$k"
  index=$(bsup status "$k" --json | jq .lock_index)
  run bsup_as b unlock --force "$k" --reason "deploy 42 hung; paged on-call"
  [ "$status" -eq 0 ]
  [[ $output == *"$(session_of a)"* ]]
  bsup history "$k" --json | jq .
  bsup history "$k" --json | jq -e --arg a "$(session_of a)" --argjson i "$index" '.events[-1] |
    .event == "force" and .session_id == $a and .lock_index == $i
    and .reason == "deploy 42 hung; paged on-call"'
  [ "$(pg "select reason from blacksmith_supervisor.bsup_events where key = '$k' and event = 'force'")" = "deploy 42 hung; paged on-call" ]
}

@test "--reason without --force is exit 2 and changes nothing" {
  k=$(key)
  bsup_as a lock "$k"
  run bsup_as a unlock "$k" --reason "no"
  [ "$status" -eq 2 ]
  [ "$(pg "select is_acquired from blacksmith_supervisor.locks where key = '$k'")" = t ]
  [ "$(pg "select count(*) from blacksmith_supervisor.bsup_events where key = '$k'")" = 1 ]
}

@test "an expiry is recorded when the next holder takes the key of a lapsed session" {
  k=$(key)
  bsup_as a lock "$k" --ttl 1s
  b_takes() { bsup_as b lock "$k" -q 2>/dev/null; }
  for _ in $(seq 1 75); do b_takes && break; sleep 0.2; done
  a=$(session_of a) b=$(session_of b)
  [ "$(events_of "$k")" = "grant $a
expiry $a
grant $b" ]
}

@test "an expiry is recorded when a new session cleans up lapsed ones; deregister records releases" {
  k=$(key)
  bsup_as a lock "$k" --ttl 1s
  a=$(session_of a)
  sleep 2
  bsup_as b register
  bsup_as b lock "$k/other"
  bsup_as b deregister
  [ "$(events_of "$k")" = "grant $a
expiry $a" ]
  [ "$(bsup history "$k/other" --json | jq -r '[.events[].event] | join(",")')" = "grant,release" ]
}

@test "history of an unknown key is empty, exit 0; --limit keeps the newest" {
  run bsup history "$(key never)" --json
  [ "$status" -eq 0 ]
  [ "$output" = '{"events":[]}' ]
  k=$(key)
  bsup lock "$k"
  bsup unlock "$k"
  bsup lock "$k"
  run bsup history "$k" --limit 2 --json
  echo "$output" | jq -e '[.events[].event] == ["release", "grant"]'
}

@test "a schema of version 1 gains the events and waiters tables on first use, keeps its locks" {
  pg "drop database if exists old" && pg "create database old"
  url="postgresql://postgres@127.0.0.1:$BSUP_PG_PORT/old"
  bsup_as a --connection "$url" lock k
  PGDB=old pg "drop table blacksmith_supervisor.bsup_events; drop table blacksmith_supervisor.bsup_waiters;
    delete from blacksmith_supervisor.bsup_schema_version where version >= 2"
  run bsup_as a --connection "$url" unlock k
  [ "$status" -eq 0 ]
  [ "$(PGDB=old pg "select max(version) from blacksmith_supervisor.bsup_schema_version")" = 3 ]
  [ "$(PGDB=old pg "select count(*) from blacksmith_supervisor.bsup_waiters")" = 0 ]
  bsup --connection "$url" history k --json | jq -e '[.events[].event] == ["release"]'
}

@test "the events table is bounded: the newest 10000 events are kept" {
  k=$(key)
  bsup lock "$k"
  pg "insert into blacksmith_supervisor.bsup_events (key, event, at)
      select '$k/old', 'grant', now() - interval '1 day' + i * interval '1 ms'
      from generate_series(1, 10005) i"
  [ "$(pg "select count(*) from blacksmith_supervisor.bsup_events")" -gt 10000 ]
  bsup unlock "$k"
  [ "$(pg "select count(*) from blacksmith_supervisor.bsup_events")" -le 10000 ]
  # The oldest went first: k's grant (older than the filler); the release just recorded stays.
  [ "$(bsup history "$k" --json | jq -r '[.events[].event] | join(",")')" = release ]
  [ "$(bsup history "$k/old" --limit 10000 --json | jq '.events | length')" -lt 10005 ]
}
