#pragma once

#include "drivers/postgres/connection.hpp"

namespace bsup::drivers::postgres {

// Brings the database to bsup's schema: Blacksmith's blacksmith_supervisor.locks exactly as
// Blacksmith creates it, and bsup's tables beside it. Versioned, additive and idempotent; the
// changes run in one transaction under an advisory lock, so that many bsup processes may start at
// once on an empty database.
void migrate(Connection& conn);

// Whether a statement failed because bsup's schema is missing or older than the statement needs
// (a relation, column or function that does not exist): then migrate() and run it again. So the
// common case costs no round trip for a schema check.
bool schema_missing(const ServerError& error);

} // namespace bsup::drivers::postgres
