#!/usr/bin/env bash
# The postgres driver against a real PostgreSQL 15 that this script starts: a throwaway cluster
# on a free loopback port (tests/servers/postgres.sh), stopped by its own PID when the suite ends,
# whatever happens. Runs every bats file of tests/integration/postgres/.
# Exit 77 (skipped) when PostgreSQL 15 is not installed, unless CI=true: then it fails.
set -euo pipefail

: "${BSUP:?set BSUP to the bsup binary under test}"
source_dir=${BSUP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
export BSUP_SOURCE_DIR=$source_dir

if [ ! -x /usr/lib/postgresql/15/bin/initdb ]; then
  echo "postgres: /usr/lib/postgresql/15/bin/initdb not found (apt-get install postgresql-15)" >&2
  [ "${CI:-}" = true ] && exit 1
  exit 77
fi

work=$(mktemp -d)
chmod 0755 "$work"
cleanup() {
  "$source_dir/tests/servers/postgres.sh" stop "$work" || true
  rm -rf "$work"
}
trap cleanup EXIT
trap "exit 143" INT TERM

port=$("$source_dir/tests/servers/postgres.sh" start "$work")
export BSUP_PG_DIR=$work BSUP_PG_PORT=$port
export BSUP_PG_URL="postgresql://postgres@127.0.0.1:$port/postgres"
status=0
bats "$source_dir/tests/integration/postgres/" || status=1
# The core again through libpq, which serves what bsup's own client leaves to it (TLS, Kerberos...).
BSUP_POSTGRES_CLIENT=libpq bats "$source_dir/tests/integration/postgres/core.bats" || status=1
# The driver-agnostic suites of --wait, run and --keepalive, on this server.
BSUP_CONNECTION=$BSUP_PG_URL bats "$source_dir/tests/lifecycle/" || status=1
exit "$status"
