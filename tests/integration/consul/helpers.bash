# Shared by the consul suites: the agent that tests/integration/consul.sh started.
load ../../lib/common

: "${CONSUL_MAIN_PORT:?run through tests/integration/consul.sh, which starts the agents}"

consul_setup() {
  common_setup
  export BSUP_CONNECTION="http://127.0.0.1:$CONSUL_MAIN_PORT"
  unset CONSUL_HTTP_ADDR CONSUL_ADDRESS CONSUL_HTTP_TOKEN CONSUL_HTTP_TOKEN_FILE
  # Every test has its own keys: the agent is shared by the whole suite.
  export K="t$BATS_SUITE_TEST_NUMBER-$RANDOM"
}

consul_teardown() {
  "$BSUP" deregister --force >/dev/null 2>&1 || true
  local f
  for f in "$BATS_TEST_TMPDIR"/state-*/state.json; do
    if [[ -e $f ]]; then
      BSUP_STATE_FILE=$f "$BSUP" deregister --force >/dev/null 2>&1 || true
    fi
  done
}

# The consul CLI and HTTP API of the main agent, to check Consul itself, not only bsup.
consul_cli() { CONSUL_HTTP_ADDR="127.0.0.1:$CONSUL_MAIN_PORT" "$CONSUL_BIN" "$@"; }
consul_get() { curl -fsS "http://127.0.0.1:$CONSUL_MAIN_PORT$1"; }
consul_put() { curl -fsS -X PUT --data-binary "${2:-}" "http://127.0.0.1:$CONSUL_MAIN_PORT$1"; }

# The Consul session ID in a state file.
consul_session_of() { jq -r .session_handle "$1"; }

# A Consul session that bsup did not create.
foreign_session() {
  consul_put /v1/session/create '{"Name":"foreign","TTL":"60s","LockDelay":"0s"}' | jq -r .ID
}

# Polls `cmd` every 0.5s until it succeeds or `seconds` pass.
eventually() {
  local seconds=$1; shift
  local end=$((SECONDS + seconds))
  until "$@"; do
    if ((SECONDS >= end)); then
      return 1
    fi
    sleep 0.5
  done
}
