# Shared by the postgres bats files. The server is started by tests/integration/postgres.sh
# (or pgbouncer.sh), which exports BSUP_PG_URL (what bsup connects to: the server, or PgBouncer
# in front of it), BSUP_PG_PORT (the server itself, for psql) and BSUP_PG_DIR (its files).
: "${BSUP_PG_URL:?run this suite through tests/integration/postgres.sh}"

pg_setup() {
  common_setup
  export BSUP_CONNECTION=$BSUP_PG_URL
  KEY_PREFIX="t${BATS_SUITE_TEST_NUMBER}-$RANDOM$RANDOM"
}

# psql straight to the server: the rows as the server has them, not as bsup reports them.
pg() {
  psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$BSUP_PG_PORT" -U postgres -d "${PGDB:-postgres}" -Atc "$1"
}

# The state file's session ID of `who` (as bsup_as writes it).
session_of() {
  jq -r .session_id "$BATS_TEST_TMPDIR/state-$1/state.json"
}

# A key of its own for each test, so that tests never see each other's rows.
key() { echo "$KEY_PREFIX/${1:-k}"; }
