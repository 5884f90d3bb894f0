#!/usr/bin/env bash
# The consul suite (ctest "consul"): fetches Consul 1.8.7 from Debian bullseye's archive (cached in
# .cache/consul/), starts two `consul agent -dev` on free loopback ports, one plain and one with
# ACLs on (default deny), runs tests/integration/consul/*.bats against them, and stops them by
# PID however the suite ends. Without consul: exit 77 (skipped), or exit 1 when CI=true.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${BSUP:?set BSUP to the bsup binary under test}"
export BSUP_SOURCE_DIR=${BSUP_SOURCE_DIR:-$(cd "$here/../.." && pwd)}

# shellcheck source=tests/servers/consul.sh
source "$here/../servers/consul.sh"
if ! consul_fetch; then
  if [[ ${CI:-} == true ]]; then
    echo "consul: cannot fetch consul, and CI=true: failing instead of skipping" >&2
    exit 1
  fi
  echo "consul: consul is not available: skipping" >&2
  exit 77
fi

# A token distinctive enough that finding it in any output is a leak, never a coincidence.
export CONSUL_MASTER_TOKEN="bsup-test-token-$RANDOM$RANDOM-c0ffee"
trap 'consul_stop MAIN; consul_stop ACL' EXIT
consul_start MAIN
consul_start ACL acl
export CONSUL_BIN

status=0
bats "$here/consul/" || status=1
# The driver-agnostic suites of --wait, run and --keepalive, on this agent. Consul's TTLs start
# at 10s, and a lapsed holder's key stays locked for the lock delay (15s by default).
BSUP_CONNECTION="http://127.0.0.1:$CONSUL_MAIN_PORT" LIFE_TTL=10s LIFE_LOCK_DELAY=15s \
  bats "$here/../lifecycle/" || status=1
exit "$status"
