#pragma once

#include "core/connection.hpp"
#include "core/supervisor.hpp"

#include <memory>
#include <string_view>
#include <vector>

namespace bsup::drivers {

// The drivers built into this binary (CMake options BSUP_WITH_POSTGRES, BSUP_WITH_CONSUL; sqlite
// is always there), in the order `bsup version` lists them.
std::vector<std::string_view> built_in_drivers();

// Makes the supervisor for the resolved connection. Creating it contacts nothing: each driver
// connects on its first call, so that commands that fail early never touch the network, and
// loads its client library (libpq, libcurl) only then. Throws a usage Error for a driver that
// was not built in.
std::unique_ptr<core::Supervisor> make_supervisor(const core::ConnectionSettings& settings);

} // namespace bsup::drivers
