#include "drivers/sqlite/schema.hpp"

#include "core/errors.hpp"

#include <fmt/format.h>

namespace bsup::drivers::sqlite {

namespace {

// Each step moves the schema from version i to i + 1. Only ever append to this list.
constexpr const char* k_steps[] = {
    // 1: sessions (with their service) and locks, which keep their row, and so their
    //    lock_index, when released: the fencing token never goes back.
    R"sql(
    CREATE TABLE IF NOT EXISTS sessions (
      id TEXT PRIMARY KEY,
      service_id TEXT NOT NULL,
      name TEXT NOT NULL,
      version TEXT NOT NULL DEFAULT '',
      address TEXT NOT NULL DEFAULT '',
      tags TEXT NOT NULL DEFAULT '[]',
      meta TEXT NOT NULL DEFAULT '{}',
      ttl_ms INTEGER NOT NULL,
      created_at_ms INTEGER NOT NULL,
      expires_at_ms INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS sessions_expires_at ON sessions (expires_at_ms);
    CREATE TABLE IF NOT EXISTS locks (
      key TEXT PRIMARY KEY,
      is_acquired INTEGER NOT NULL DEFAULT 0,
      session_id TEXT,
      acquirer_name TEXT,
      acquirer_address TEXT,
      acquired_at_ms INTEGER,
      lock_index INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX IF NOT EXISTS locks_session ON locks (session_id) WHERE is_acquired;
    )sql",
    // 2: the history of keys (bsup history): one row an event, in the transaction of the change
    //    it describes. `id` only grows (rows are deleted oldest first), so it orders the events
    //    and bounds the table cheaply (docs/DESIGN.md "History").
    R"sql(
    CREATE TABLE IF NOT EXISTS events (
      id INTEGER PRIMARY KEY,
      at_ms INTEGER NOT NULL,
      key TEXT NOT NULL,
      event TEXT NOT NULL,
      session_id TEXT,
      acquirer_name TEXT,
      acquirer_address TEXT,
      lock_index INTEGER,
      reason TEXT
    );
    CREATE INDEX IF NOT EXISTS events_key ON events (key, id);
    )sql",
};

constexpr int k_version = static_cast<int>(std::size(k_steps));

int user_version(Database& db) {
    Statement read(db, "PRAGMA user_version");
    return read.step() ? static_cast<int>(read.integer(0)) : 0;
}

} // namespace

void migrate(Database& db) {
    if (user_version(db) == k_version) {
        return; // the common case: one read, no write lock
    }
    Database::Transaction tx(db);
    int version = user_version(db); // again, under the write lock
    if (version > k_version) {
        throw core::backend_error(
            fmt::format("sqlite database {} has schema version {}, newer than this bsup's {}",
                        db.path(), version, k_version),
            "upgrade bsup");
    }
    for (int i = version; i < k_version; ++i) {
        db.execute(k_steps[i]);
    }
    db.execute(fmt::format("PRAGMA user_version = {}", k_version).c_str());
    tx.commit();
}

} // namespace bsup::drivers::sqlite
