#include "drivers/postgres/schema.hpp"

#include <fmt/format.h>

namespace bsup::drivers::postgres {

namespace {

// Blacksmith's own table, verbatim (SPEC "postgres"): a Blacksmith application and bsup share it.
constexpr const char* k_blacksmith = R"sql(
CREATE SCHEMA IF NOT EXISTS blacksmith_supervisor;
CREATE TABLE IF NOT EXISTS blacksmith_supervisor.locks (
  key TEXT PRIMARY KEY,
  is_acquired BOOL NOT NULL DEFAULT FALSE,
  session_id VARCHAR(27),
  acquirer_name TEXT,
  acquirer_address TEXT,
  acquired_at TIMESTAMP WITHOUT TIME ZONE
);
CREATE TABLE IF NOT EXISTS blacksmith_supervisor.bsup_schema_version (
  version INTEGER PRIMARY KEY,
  applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
)sql";

// Each step moves the schema from version i to i + 1. Only ever append to this list, and only
// additive, idempotent statements (IF NOT EXISTS): an older bsup keeps working on a newer schema.
constexpr const char* k_steps[] = {
    // 1: sessions with their expiry (on the server's clock) and service; the grant behind each
    //    lock, with its fencing token from one sequence, so that lock_index grows with every
    //    new grant of a key and never goes back.
    R"sql(
CREATE TABLE IF NOT EXISTS blacksmith_supervisor.bsup_sessions (
  id VARCHAR(27) PRIMARY KEY,
  service_id TEXT NOT NULL,
  name TEXT NOT NULL,
  version TEXT NOT NULL DEFAULT '',
  address TEXT NOT NULL DEFAULT '',
  tags JSONB NOT NULL DEFAULT '[]',
  meta JSONB NOT NULL DEFAULT '{}',
  ttl_ms BIGINT NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS bsup_sessions_expires_at
  ON blacksmith_supervisor.bsup_sessions (expires_at);
CREATE SEQUENCE IF NOT EXISTS blacksmith_supervisor.bsup_lock_index;
CREATE TABLE IF NOT EXISTS blacksmith_supervisor.bsup_grants (
  key TEXT PRIMARY KEY,
  session_id VARCHAR(27),
  acquired_at TIMESTAMP WITHOUT TIME ZONE,
  lock_index BIGINT NOT NULL
);
)sql",
    // 2: the history of keys (bsup history): one row an event, written by the statement of the
    //    change it describes; ids only grow, so the newest events are kept with one range delete
    //    on the primary key (docs/DESIGN.md "History").
    R"sql(
CREATE TABLE IF NOT EXISTS blacksmith_supervisor.bsup_events (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at TIMESTAMPTZ NOT NULL DEFAULT now(),
  key TEXT NOT NULL,
  event TEXT NOT NULL,
  session_id TEXT,
  acquirer_name TEXT,
  acquirer_address TEXT,
  lock_index BIGINT,
  reason TEXT
);
CREATE INDEX IF NOT EXISTS bsup_events_key ON blacksmith_supervisor.bsup_events (key, id);
)sql",
    // 3: the sessions waiting for a key (--wait), in the order they came; a release hands the key
    //    to the first one that still waits (docs/DESIGN.md "Hand-off"). A waiter holds the advisory
    //    lock (bsup's class, ticket) on its connection while it waits.
    R"sql(
CREATE TABLE IF NOT EXISTS blacksmith_supervisor.bsup_waiters (
  ticket BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  key TEXT NOT NULL,
  session_id VARCHAR(27) NOT NULL,
  queued_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS bsup_waiters_key ON blacksmith_supervisor.bsup_waiters (key, ticket);
)sql",
};

constexpr int k_version = static_cast<int>(std::size(k_steps));

// Serializes bsup's schema changes across processes: pg_advisory_xact_lock(k_advisory_key),
// released with the transaction. ('bsup' in ASCII.)
constexpr long long k_advisory_key = 0x62737570;

std::string script_from(int version) {
    // One simple-query message without BEGIN: the server runs it as one implicit transaction,
    // so a failure leaves nothing behind, not even an open transaction (PgBouncer-safe).
    std::string sql = fmt::format("SELECT pg_advisory_xact_lock({});", k_advisory_key);
    sql += k_blacksmith;
    for (int i = version; i < k_version; ++i) {
        sql += k_steps[i];
        sql += fmt::format("INSERT INTO blacksmith_supervisor.bsup_schema_version (version) "
                           "VALUES ({}) ON CONFLICT DO NOTHING;",
                           i + 1);
    }
    return sql;
}

bool missing_relation(const ServerError& e) {
    return e.sqlstate() == "42P01" || e.sqlstate() == "3F000";
}

// Another program (a Blacksmith application) may create the schema at the same moment without
// bsup's advisory lock: CREATE ... IF NOT EXISTS then fails with a unique violation.
bool concurrent_create(const ServerError& e) {
    return e.sqlstate() == "23505" || e.sqlstate() == "42P06" || e.sqlstate() == "42P07";
}

} // namespace

bool schema_missing(const ServerError& e) {
    return missing_relation(e) || e.sqlstate() == "42703" || e.sqlstate() == "42883";
}

void migrate(Connection& conn) {
    int version = 0;
    try {
        Result r = conn.query("SELECT max(version) FROM blacksmith_supervisor.bsup_schema_version");
        version = static_cast<int>(r.integer(0, 0));
    } catch (const ServerError& e) {
        if (!missing_relation(e)) {
            throw;
        }
    }
    if (version >= k_version) {
        return; // the common case; a newer schema is additive, so it serves this bsup too
    }
    for (int attempt = 0;; ++attempt) {
        try {
            conn.script(script_from(version));
            return;
        } catch (const ServerError& e) {
            if (attempt >= 3 || !concurrent_create(e)) {
                throw;
            }
        }
    }
}

} // namespace bsup::drivers::postgres
