#pragma once

#include "core/connection.hpp"
#include "core/supervisor.hpp"

#include <memory>

namespace bsup::drivers {

// The embedded driver: one SQLite file for one machine (SPEC "sqlite"). The database is opened
// and its schema brought up to date on the first call that needs it.
std::unique_ptr<core::Supervisor> make_sqlite_supervisor(const core::ConnectionSettings& settings);

} // namespace bsup::drivers
