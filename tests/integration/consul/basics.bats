#!/usr/bin/env bats
# Every subcommand against a real Consul agent, checked on Consul itself.
load helpers

setup() { consul_setup; }
teardown() { consul_teardown; }

@test "version lists the consul driver; bsup does not link libcurl" {
  run bsup version --json
  [ "$status" -eq 0 ]
  echo "$output" | jq -e '.drivers | index("consul")'
  run ldd "$BSUP"
  [[ $output != *libcurl* ]]
}

@test "register creates a Consul session and registers the service with the agent" {
  run bsup register --name blacksmith-gateway --address :9090 --tag edge --meta zone=a \
    --service-version 1.2.3 --ttl 1m
  [ "$status" -eq 0 ]
  id=$(jq -r .session_id "$BSUP_STATE_FILE")
  handle=$(consul_session_of "$BSUP_STATE_FILE")
  [ "${#id}" -eq 27 ]
  # Consul knows the session: TTL, behavior release, default lock delay 15s.
  consul_get "/v1/session/info/$handle" | jq -e '.[0] | .TTL == "1m" and .Behavior == "release"
    and .LockDelay == 15000000000'
  # The agent lists the service under the bsup session ID.
  consul_get /v1/agent/services | jq -e --arg id "$id" '.[$id] | .Service == "blacksmith-gateway"
    and .Port == 9090 and .Address == "" and .Tags == ["edge"] and .Meta.zone == "a"'
  run bsup services --json
  [ "$status" -eq 0 ]
  echo "$output" | jq -e --arg id "$id" '.[] | select(.id == $id) | .name == "blacksmith-gateway"
    and .address == ":9090" and .version == "1.2.3" and .meta == {"zone": "a"}'
}

@test "register again renews the session it has" {
  bsup register --ttl 1m
  id=$(jq -r .session_id "$BSUP_STATE_FILE")
  run bsup register --ttl 1m
  [ "$status" -eq 0 ]
  [ "$(jq -r .session_id "$BSUP_STATE_FILE")" = "$id" ]
}

@test "--check-http becomes the service's HTTP health check" {
  bsup register --name checked --check-http "http://127.0.0.1:$CONSUL_MAIN_PORT/v1/status/leader"
  id=$(jq -r .session_id "$BSUP_STATE_FILE")
  consul_get /v1/agent/checks | jq -e --arg id "$id" \
    '[.[] | select(.ServiceID == $id and .Type == "http")] | length == 1'
}

@test "lock takes the KV entry blacksmith/<key> with bsup's Consul session" {
  run bsup lock "$K/migrations/warehouse"
  [ "$status" -eq 0 ]
  handle=$(consul_session_of "$BSUP_STATE_FILE")
  id=$(jq -r .session_id "$BSUP_STATE_FILE")
  run consul_cli kv get -detailed "blacksmith/$K/migrations/warehouse"
  [ "$status" -eq 0 ]
  [[ $output == *"Session          $handle"* ]]
  consul_cli kv get "blacksmith/$K/migrations/warehouse" | jq -e --arg id "$id" \
    '.session_id == $id and .acquirer_name == "bsup" and (.acquired_at | test("Z$"))'
  run bsup status "$K/migrations/warehouse" --json
  [ "$status" -eq 0 ]
  echo "$output" | jq -e --arg id "$id" '.is_acquired == true and .session_id == $id
    and .lock_index == 1 and .acquirer_name == "bsup" and (.acquired_at | type == "string")'
}

@test "lock of a key this session holds succeeds and changes nothing" {
  bsup lock "$K"
  before=$(consul_get "/v1/kv/blacksmith/$K")
  run bsup lock "$K"
  [ "$status" -eq 0 ]
  [ "$(consul_get "/v1/kv/blacksmith/$K")" = "$before" ]
}

@test "a key held by another bsup session: lock exits 1, or --conflict-exit-code" {
  bsup_as a lock "$K"
  run bsup_as b lock "$K"
  [ "$status" -eq 1 ]
  run bsup_as b lock "$K" --conflict-exit-code 7
  [ "$status" -eq 7 ]
  run bsup_as b unlock "$K"
  [ "$status" -eq 1 ]
  run bsup_as a status "$K" -e
  [ "$status" -eq 0 ]
}

@test "lock index grows with every new grant" {
  bsup_as a lock "$K"
  bsup_as a unlock "$K"
  bsup_as b lock "$K"
  run bsup status "$K" --json
  echo "$output" | jq -e '.lock_index == 2'
  [ "$(consul_get "/v1/kv/blacksmith/$K" | jq '.[0].LockIndex')" -eq 2 ]
}

@test "unlock releases with ?release=; unlock of a key not held exits 1" {
  bsup lock "$K"
  run bsup unlock "$K"
  [ "$status" -eq 0 ]
  consul_get "/v1/kv/blacksmith/$K" | jq -e '.[0].Session == null'
  run bsup unlock "$K"
  [ "$status" -eq 1 ]
  run bsup status "$K" -e
  [ "$status" -eq 1 ]
}

@test "a key that another Consul session holds reads as acquired and cannot be locked" {
  foreign=$(foreign_session)
  consul_cli kv put -session "$foreign" -acquire "blacksmith/$K" "not bsup's"
  run bsup lock "$K"
  [ "$status" -eq 1 ]
  run bsup status "$K" --json
  [ "$status" -eq 0 ]
  echo "$output" | jq -e --arg s "$foreign" '.is_acquired == true and .session_id == $s'
  run bsup status --json
  echo "$output" | jq -e --arg k "$K" --arg s "$foreign" \
    '.[] | select(.key == $k) | .session_id == $s'
  consul_put "/v1/session/destroy/$foreign"
}

@test "unlock --force breaks another session's lock, on Consul too" {
  bsup_as a lock "$K"
  run bsup_as b unlock --force "$K"
  [ "$status" -eq 0 ]
  consul_get "/v1/kv/blacksmith/$K" | jq -e '.[0].Session == null'
  run bsup_as b lock "$K"
  [ "$status" -eq 0 ]
  # A foreign Consul session's lock too.
  foreign=$(foreign_session)
  consul_cli kv put -session "$foreign" -acquire "blacksmith/$K-2" x
  run bsup unlock --force "$K-2"
  [ "$status" -eq 0 ]
  consul_get "/v1/kv/blacksmith/$K-2" | jq -e '.[0].Session == null'
  run bsup unlock --force "$K-2"
  [ "$status" -eq 1 ]
  consul_put "/v1/session/destroy/$foreign"
}

@test "status without keys lists the held keys under blacksmith/, sorted" {
  bsup lock "$K/b"
  bsup lock "$K/a"
  bsup lock "$K/c"
  bsup unlock "$K/c"
  run bsup status --json
  [ "$status" -eq 0 ]
  [ "$(echo "$output" | jq -c --arg k "$K/" '[.[] | select(.key | startswith($k)) | .key]')" = \
    "[\"$K/a\",\"$K/b\"]" ]
}

@test "keys with spaces, unicode and %-signs round-trip as URL-encoded segments" {
  key="$K/with space/100%/ünï?#&"
  run bsup lock "$key"
  [ "$status" -eq 0 ]
  consul_cli kv get -detailed "blacksmith/$key" | grep -q Session
  run bsup status "$key" --json
  echo "$output" | jq -e --arg k "$key" '.key == $k and .is_acquired'
  run bsup unlock "$key"
  [ "$status" -eq 0 ]
}

@test "an invalid key is exit 2 before Consul is contacted" {
  run bsup lock "/bad" --connection http://127.0.0.1:1
  [ "$status" -eq 2 ]
  rc=0
  out=$(bsup status "a//b" --json 2>/dev/null) || rc=$?
  [ "$rc" -eq 2 ]
  echo "$out" | jq -e '.error.exit_code == 2'
}

@test "renew renews the Consul session; a destroyed session is gone" {
  bsup register --ttl 30s
  run bsup renew --json
  [ "$status" -eq 0 ]
  handle=$(consul_session_of "$BSUP_STATE_FILE")
  consul_put "/v1/session/destroy/$handle"
  run bsup renew
  [ "$status" -eq 1 ]
  [[ $output == *"has expired or was ended"* ]]
  # lock starts a new session when the old one is gone.
  run bsup lock "$K" --lock-delay 0
  [ "$status" -eq 0 ]
  [ "$(consul_session_of "$BSUP_STATE_FILE")" != "$handle" ]
}

@test "deregister releases the keys, destroys the session and deregisters the service" {
  bsup register --name going --ttl 1m
  bsup lock "$K/x"
  id=$(jq -r .session_id "$BSUP_STATE_FILE")
  handle=$(consul_session_of "$BSUP_STATE_FILE")
  run bsup deregister
  [ "$status" -eq 0 ]
  consul_get "/v1/kv/blacksmith/$K/x" | jq -e '.[0].Session == null'
  consul_get "/v1/session/info/$handle" | jq -e 'length == 0'
  consul_get /v1/agent/services | jq -e --arg id "$id" 'has($id) | not'
  # Released, not invalidated: no lock delay for the next holder.
  run bsup_as b lock "$K/x"
  [ "$status" -eq 0 ]
  [ ! -e "$BSUP_STATE_FILE" ]
}

@test "the lock delay: 15s by default after a holder's session is invalidated; 0 allowed" {
  bsup_as a lock "$K/default"
  bsup_as z lock "$K/zero" --lock-delay 0
  consul_put "/v1/session/destroy/$(consul_session_of "$BATS_TEST_TMPDIR/state-a/state.json")"
  consul_put "/v1/session/destroy/$(consul_session_of "$BATS_TEST_TMPDIR/state-z/state.json")"
  consul_get "/v1/session/info/$(consul_session_of "$BATS_TEST_TMPDIR/state-z/state.json")" |
    jq -e 'length == 0'
  # Free on Consul, yet Consul refuses it for 15s: not acquired.
  run bsup_as b lock "$K/default"
  [ "$status" -eq 1 ]
  run bsup_as b status "$K/default" --json
  echo "$output" | jq -e '.is_acquired == false'
  # With --lock-delay 0 the next one takes it at once.
  run bsup_as b lock "$K/zero"
  [ "$status" -eq 0 ]
}

@test "--wait wakes when the holder releases (a blocking query, not the deadline)" {
  bsup_as a lock "$K"
  (sleep 2; bsup_as a unlock "$K") &
  start=$SECONDS
  run bsup_as b lock "$K" --wait 60s
  [ "$status" -eq 0 ]
  # Generous bound: far below the 60s deadline.
  [ $((SECONDS - start)) -lt 30 ]
  wait
}

@test "--wait runs out: exit 1 after the deadline" {
  bsup_as a lock "$K"
  run bsup_as b lock "$K" --wait 2s
  [ "$status" -eq 1 ]
}

@test "the address from CONSUL_HTTP_ADDR (bare host:port) and consul://" {
  unset BSUP_CONNECTION
  run env CONSUL_HTTP_ADDR="127.0.0.1:$CONSUL_MAIN_PORT" "$BSUP" --from consul lock "$K"
  [ "$status" -eq 0 ]
  run env CONSUL_HTTP_ADDR="127.0.0.1:$CONSUL_MAIN_PORT" "$BSUP" --from consul status "$K" -e
  [ "$status" -eq 0 ]
  run "$BSUP" --connection "consul://127.0.0.1:$CONSUL_MAIN_PORT" status "$K" -e --json
  [ "$status" -eq 0 ]
}

@test "a TTL below Consul's minimum is refused by Consul: exit 3 with its reason" {
  export BSUP_MIN_TTL=1s
  run bsup register --ttl 5s
  [ "$status" -eq 3 ]
  [[ $output == *"TTL"* ]]
}
