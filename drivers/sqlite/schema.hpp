#pragma once

#include "drivers/sqlite/database.hpp"

namespace bsup::drivers::sqlite {

// Brings the database to the current schema: versioned (PRAGMA user_version), additive and
// idempotent, applied in one immediate transaction so that many processes may start at once.
void migrate(Database& db);

// The database's clock in milliseconds since the epoch, as SQL: every expiry is decided by it.
constexpr const char* k_now_ms = "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)";

} // namespace bsup::drivers::sqlite
