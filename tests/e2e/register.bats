#!/usr/bin/env bats
# bats sets $stderr (run --separate-stderr) and $output.
# shellcheck disable=SC2154,SC2174,SC2030,SC2031,SC2016
# register, deregister, renew, services: the session and its service.
load ../lib/common
load helpers

setup() { common_setup; }

@test "register writes a state file; services lists its name, address, tags and meta" {
  run bsup register --name x --address :9090 --tag a --meta k=v
  [ "$status" -eq 0 ]
  [ -f "$BSUP_STATE_FILE" ]
  run --separate-stderr bsup services --json
  [ "$status" -eq 0 ]
  echo "$output" | jqe --arg s "$(session_in "$BSUP_STATE_FILE")" '
      type == "array" and length == 1
      and .[0].name == "x" and .[0].address == ":9090"
      and .[0].tags == ["a"] and .[0].meta == {"k": "v"}
      and .[0].id == $s
      and ([.[0] | keys[]] | contains(["id", "name", "version", "address", "tags", "meta"]))'
}

@test "services text names the service" {
  bsup register --name blacksmith-gateway --address :9090
  run bsup services
  [ "$status" -eq 0 ]
  [[ "$output" == *blacksmith-gateway* && "$output" == *:9090* ]] || fail "output: $output"
}

@test "services lists every registered session's service, and an empty array with none" {
  run --separate-stderr bsup services --json
  [ "$status" -eq 0 ]
  echo "$output" | jqe '. == []'
  bsup_as A register --name one --tag t1 --tag t2 --meta a=1 --meta b=2
  bsup_as B register --name two --id custom-id --service-version 1.2.3
  run --separate-stderr bsup services --json
  echo "$output" | jqe '(map(.name) | sort) == ["one", "two"]'
  echo "$output" | jqe '.[] | select(.name == "one") | .tags == ["t1", "t2"]
      and .meta == {"a": "1", "b": "2"}'
  echo "$output" | jqe '.[] | select(.name == "two") | .id == "custom-id"
      and .version == "1.2.3"'
}

@test "register --meta without = is a usage error (exit 2)" {
  run bsup register --meta novalue
  [ "$status" -eq 2 ]
  [ ! -e "$BSUP_STATE_FILE" ]
}

@test "register twice keeps the one session" {
  bsup register
  local first
  first=$(session_in "$BSUP_STATE_FILE")
  run bsup register
  [ "$status" -eq 0 ]
  [ "$(session_in "$BSUP_STATE_FILE")" = "$first" ]
}

@test "a lock after register belongs to the registered session and its service" {
  bsup register --name migrator --address 10.0.0.1:1
  bsup lock k
  run --separate-stderr bsup status k --json
  echo "$output" | jqe --arg s "$(session_in "$BSUP_STATE_FILE")" \
    '.session_id == $s and .acquirer_name == "migrator" and .acquirer_address == "10.0.0.1:1"'
}

@test "deregister releases every key of the session, removes the state file, ends the service" {
  bsup register --name x
  bsup lock k1
  bsup lock k2
  bsup_as B lock k3
  run --separate-stderr bsup deregister --json
  [ "$status" -eq 0 ]
  assert_one_json "$output"
  echo "$output" | jqe '(.released | sort) == ["k1", "k2"]'
  [ ! -e "$BSUP_STATE_FILE" ]
  run --separate-stderr bsup status k1 k2 k3 --json
  echo "$output" | jqe 'map(.is_acquired) == [false, false, true]'
  run --separate-stderr bsup services --json
  echo "$output" | jqe 'map(.name) | index("x") == null'
  run bsup_as C lock k1
  [ "$status" -eq 0 ]
}

@test "deregister without a session exits 0" {
  run bsup deregister
  [ "$status" -eq 0 ]
}

@test "deregister of a corrupt state file exits 4 and leaves it; --force discards it" {
  mkdir -p -m 700 "$(dirname "$BSUP_STATE_FILE")"
  printf '{"version": 1, "driv' >"$BSUP_STATE_FILE"
  chmod 600 "$BSUP_STATE_FILE"
  local sum
  sum=$(checksum "$BSUP_STATE_FILE")
  run bsup deregister
  [ "$status" -eq 4 ]
  [ "$(checksum "$BSUP_STATE_FILE")" = "$sum" ]
  run bsup deregister --force
  [ "$status" -eq 0 ]
  [ ! -e "$BSUP_STATE_FILE" ]
  run bsup lock k
  [ "$status" -eq 0 ]
}

@test "deregister --force discards a state file of another backend" {
  bsup lock k
  run bsup deregister --connection "sqlite:$BATS_TEST_TMPDIR/other.db"
  [ "$status" -eq 4 ]
  [ -e "$BSUP_STATE_FILE" ]
  run bsup deregister --force --connection "sqlite:$BATS_TEST_TMPDIR/other.db"
  [ "$status" -eq 0 ]
  [ ! -e "$BSUP_STATE_FILE" ]
}

@test "renew extends expires_at" {
  bsup register --ttl 1m
  bsup lock k
  local before after
  before=$(bsup status k --json | jq -r .expires_at)
  sleep 1.2
  run --separate-stderr bsup renew --json
  [ "$status" -eq 0 ]
  assert_one_json "$output"
  after=$(bsup status k --json | jq -r .expires_at)
  [[ "$after" > "$before" ]] || fail "expires_at did not move: $before -> $after"
  # it stays about one TTL ahead: renew sets expiry to now + ttl, it does not add a TTL
  local ts_before ts_after
  ts_before=$(date -d "$before" +%s)
  ts_after=$(date -d "$after" +%s)
  [ $((ts_after - ts_before)) -ge 1 ] && [ $((ts_after - ts_before)) -le 30 ] ||
    fail "renew moved expires_at by $((ts_after - ts_before))s"
}

@test "renew without a session exits 4 and names the state file" {
  run --separate-stderr bsup renew
  [ "$status" -eq 4 ]
  [[ "$stderr" == *"$BSUP_STATE_FILE"* ]] || fail "stderr: $stderr"
}

@test "register --ttl outside 10s..24h is exit 2 (without BSUP_MIN_TTL)" {
  run bsup register --ttl 9s
  [ "$status" -eq 2 ]
  run bsup register --ttl 25h
  [ "$status" -eq 2 ]
  run bsup register --ttl soon
  [ "$status" -eq 2 ]
  [ ! -e "$BSUP_STATE_FILE" ]
  run bsup register --ttl 1h30m
  [ "$status" -eq 0 ]
}

@test "deregister when the backend fails: exit 3 and the state file kept; --force discards it" {
  local db="$BATS_TEST_TMPDIR/db/x.db"
  bsup lock k --connection "sqlite:$db"
  rm -f "$db"-wal "$db"-shm
  printf 'not a database any more%.0s\n' $(seq 300) >"$db"
  local sum
  sum=$(checksum "$BSUP_STATE_FILE")
  run bsup deregister --connection "sqlite:$db"
  [ "$status" -eq 3 ]
  [ "$(checksum "$BSUP_STATE_FILE")" = "$sum" ]
  run bsup deregister --force --connection "sqlite:$db"
  [ "$status" -eq 0 ]
  [ ! -e "$BSUP_STATE_FILE" ]
}
