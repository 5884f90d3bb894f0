#!/usr/bin/env bats
# A Consul that is down, and one with ACLs on (default deny).
load helpers

setup() {
  consul_setup
  # shellcheck source=tests/servers/consul.sh
  source "$BSUP_SOURCE_DIR/tests/servers/consul.sh"
}
teardown() {
  consul_teardown
  consul_stop DOWN
}

acl() { "$BSUP" --connection "http://127.0.0.1:$CONSUL_ACL_PORT" "$@"; }

@test "an agent that stops: exit 3 within --timeout, naming the address" {
  consul_start DOWN
  export BSUP_CONNECTION="http://127.0.0.1:$CONSUL_DOWN_PORT"
  bsup lock "$K"
  consul_stop DOWN
  for cmd in "lock $K" "unlock $K" "status $K" "status" "renew" "services" "deregister"; do
    start=$SECONDS
    # shellcheck disable=SC2086
    run bsup $cmd --timeout 3s
    [ "$status" -eq 3 ]
    [ $((SECONDS - start)) -le 8 ]
    [[ $output == *"127.0.0.1:$CONSUL_DOWN_PORT"* ]]
    [[ $output == *"is the agent running? (set CONSUL_HTTP_ADDR)"* ]]
  done
  run bsup status "$K" --timeout 3s --json
  [ "$status" -eq 3 ]
  # deregister --force discards the session it cannot end.
  run bsup deregister --force
  [ "$status" -eq 0 ]
}

@test "a port that does not answer: exit 3 within --timeout" {
  # A listening socket that never answers HTTP.
  port=$(consul_free_port)
  python3 -c "import socket,time; s=socket.socket(); s.bind(('127.0.0.1',$port)); s.listen(64); time.sleep(30)" &
  pid=$!
  sleep 0.5
  start=$SECONDS
  run bsup status "$K" --connection "http://127.0.0.1:$port" --timeout 2s
  kill "$pid"
  [ "$status" -eq 3 ]
  [ $((SECONDS - start)) -le 7 ]
  [[ $output == *"did not answer"* ]]
}

@test "ACLs: with the token (--token-file, CONSUL_HTTP_TOKEN_FILE, CONSUL_HTTP_TOKEN) bsup works" {
  printf '%s\n' "$CONSUL_MASTER_TOKEN" >"$BATS_TEST_TMPDIR/token"
  run acl --token-file "$BATS_TEST_TMPDIR/token" register --name acl-svc -v
  [ "$status" -eq 0 ]
  [[ $output != *"$CONSUL_MASTER_TOKEN"* ]]
  run env CONSUL_HTTP_TOKEN_FILE="$BATS_TEST_TMPDIR/token" "$BSUP" \
    --connection "http://127.0.0.1:$CONSUL_ACL_PORT" lock "$K" -v --json
  [ "$status" -eq 0 ]
  [[ $output != *"$CONSUL_MASTER_TOKEN"* ]]
  run env CONSUL_HTTP_TOKEN="$CONSUL_MASTER_TOKEN" "$BSUP" \
    --connection "http://127.0.0.1:$CONSUL_ACL_PORT" status "$K" -e
  [ "$status" -eq 0 ]
  [[ $output != *"$CONSUL_MASTER_TOKEN"* ]]
  run env CONSUL_HTTP_TOKEN="$CONSUL_MASTER_TOKEN" "$BSUP" \
    --connection "http://127.0.0.1:$CONSUL_ACL_PORT" services --json
  [ "$status" -eq 0 ]
  echo "$output" | jq -e '.[] | select(.name == "acl-svc")'
  run grep -q "$CONSUL_MASTER_TOKEN" "$BSUP_STATE_FILE"
  [ "$status" -eq 1 ]
  run acl --token-file "$BATS_TEST_TMPDIR/token" deregister
  [ "$status" -eq 0 ]
}

@test "ACLs: without the token, or with a wrong one, exit 3 and 'permission denied'" {
  run acl lock "$K"
  [ "$status" -eq 3 ]
  [[ $output == *"permission denied"* ]]
  [[ $output == *"token"* ]]
  run acl status "$K" --json
  [ "$status" -eq 3 ]
  run env CONSUL_HTTP_TOKEN=wrong-token-123 "$BSUP" --connection \
    "http://127.0.0.1:$CONSUL_ACL_PORT" status "$K" -v
  [ "$status" -eq 3 ]
  [[ $output == *"permission denied"* ]]
  [[ $output != *"wrong-token-123"* ]]
}

@test "a token file that cannot be read is exit 2, and nothing is sent" {
  run acl --token-file "$BATS_TEST_TMPDIR/missing" status "$K"
  [ "$status" -eq 2 ]
  [[ $output == *"token file"* ]]
}

@test "https needs libcurl (exit 3, saying to install libcurl4); plain http never loads it" {
  command -v cc >/dev/null || skip "no C compiler to build a stand-in libcurl"
  mkdir -p "$BATS_TEST_TMPDIR/lib"
  echo 'int bsup_not_curl;' >"$BATS_TEST_TMPDIR/lib/empty.c"
  cc -shared -fPIC -o "$BATS_TEST_TMPDIR/lib/libcurl.so.4" "$BATS_TEST_TMPDIR/lib/empty.c"
  run env LD_LIBRARY_PATH="$BATS_TEST_TMPDIR/lib" "$BSUP" \
    --connection "https://${BSUP_CONNECTION#http://}" status "$K"
  [ "$status" -eq 3 ]
  [[ $output == *"libcurl4"* ]]
  # bsup's own HTTP client serves http:// and unix://: the broken libcurl is never loaded.
  run env LD_LIBRARY_PATH="$BATS_TEST_TMPDIR/lib" "$BSUP" status "$K"
  [ "$status" -eq 0 ]
  # The other drivers never load it.
  run env LD_LIBRARY_PATH="$BATS_TEST_TMPDIR/lib" "$BSUP" --connection "sqlite:$BATS_TEST_TMPDIR/x.db" \
    status "$K"
  [ "$status" -eq 0 ]
}
