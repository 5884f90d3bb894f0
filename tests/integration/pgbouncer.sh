#!/usr/bin/env bash
# The core of the postgres suite through PgBouncer in transaction pooling mode, in front of a
# throwaway PostgreSQL 15 (tests/servers/). bsup talks to PgBouncer; the checks with psql go
# straight to the server. Both are stopped by their own PIDs when the suite ends.
# Exit 77 (skipped) when PostgreSQL 15 or PgBouncer is not installed, unless CI=true: then it fails.
set -euo pipefail

: "${BSUP:?set BSUP to the bsup binary under test}"
source_dir=${BSUP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
export BSUP_SOURCE_DIR=$source_dir

if [ ! -x /usr/lib/postgresql/15/bin/initdb ] || ! command -v pgbouncer >/dev/null; then
  echo "pgbouncer: PostgreSQL 15 or PgBouncer not installed (apt-get install postgresql-15 pgbouncer)" >&2
  [ "${CI:-}" = true ] && exit 1
  exit 77
fi

work=$(mktemp -d)
chmod 0755 "$work"
cleanup() {
  "$source_dir/tests/servers/pgbouncer.sh" stop "$work" || true
  "$source_dir/tests/servers/postgres.sh" stop "$work" || true
  rm -rf "$work"
}
trap cleanup EXIT
trap "exit 143" INT TERM

port=$("$source_dir/tests/servers/postgres.sh" start "$work")
bouncer=$("$source_dir/tests/servers/pgbouncer.sh" start "$work" "$port")
export BSUP_PG_DIR=$work BSUP_PG_PORT=$port BSUP_PGBOUNCER_PORT=$bouncer
export BSUP_PG_URL="postgresql://postgres@127.0.0.1:$bouncer/postgres"
bats "$source_dir/tests/integration/postgres/core.bats" "$source_dir/tests/integration/postgres/race.bats" \
  "$source_dir/tests/integration/postgres/history.bats"
