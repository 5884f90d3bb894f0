#!/usr/bin/env bats
# Session TTLs on Consul's clock. Consul's minimum TTL is 10s and it may keep a session up to
# twice its TTL, so these tests wait up to ~30s each: keep them few.
load helpers

setup() { consul_setup; }
teardown() { consul_teardown; }

key_is_free() { consul_get "/v1/kv/blacksmith/$1" | jq -e '.[0].Session == null' >/dev/null; }

@test "a lapsed session frees its keys (Consul's clock); the next holder takes them" {
  bsup_as a lock "$K" --ttl 10s --lock-delay 0
  handle=$(consul_session_of "$BATS_TEST_TMPDIR/state-a/state.json")
  run bsup_as b lock "$K"
  [ "$status" -eq 1 ]
  # Within twice the TTL (plus a margin), never assuming the floor.
  eventually 35 key_is_free "$K"
  consul_get "/v1/session/info/$handle" | jq -e 'length == 0'
  run bsup_as b lock "$K" --lock-delay 0
  [ "$status" -eq 0 ]
  # The lapsed session's next lock starts a new session.
  run bsup_as a lock "$K-2" --lock-delay 0
  [ "$status" -eq 0 ]
  [ "$(consul_session_of "$BATS_TEST_TMPDIR/state-a/state.json")" != "$handle" ]
}

@test "renew keeps a session alive past its TTL" {
  bsup_as a lock "$K" --ttl 10s --lock-delay 0
  for _ in 1 2 3 4 5 6; do
    sleep 4
    run bsup_as a renew
    [ "$status" -eq 0 ]
  done
  # 24s later, still held by the same session.
  run bsup_as b lock "$K"
  [ "$status" -eq 1 ]
}
