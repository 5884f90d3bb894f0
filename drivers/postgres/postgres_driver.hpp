#pragma once

#include "core/connection.hpp"
#include "core/supervisor.hpp"

#include <memory>

namespace bsup::drivers {

// The PostgreSQL driver (SPEC "postgres"): Blacksmith's blacksmith_supervisor.locks table, with
// bsup's sessions beside it. libpq is loaded, the connection made and the schema brought up to
// date on the first call that needs them.
std::unique_ptr<core::Supervisor>
make_postgres_supervisor(const core::ConnectionSettings& settings);

} // namespace bsup::drivers
