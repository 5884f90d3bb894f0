#pragma once

#include "core/duration.hpp"
#include "core/environment.hpp"
#include "core/model.hpp"

#include <filesystem>
#include <optional>
#include <string>

namespace bsup::core {

// Everything a driver needs to reach its backend.
struct ConnectionSettings {
    DriverName driver = DriverName::sqlite;
    std::string connection; // as given: a secret, never shown
    std::string endpoint;   // redacted, for messages and the state file
    Duration timeout = std::chrono::seconds(10);
    // Driver-specific settings, passed through (consul: --lock-delay, --token-file).
    std::optional<Duration> lock_delay;
    std::string token_file;
};

// What the user asked for: flags, unset when not given.
struct ConnectionRequest {
    std::optional<std::string> from;       // --from
    std::optional<std::string> connection; // --connection
    Duration timeout = std::chrono::seconds(10);
    std::optional<Duration> lock_delay;
    std::string token_file;
};

// The folder of bsup's files: ${XDG_STATE_HOME:-$HOME/.local/state}/bsup.
std::filesystem::path state_home(const Environment& env);

// Picks the driver and the connection as SPEC's "Connections" says: --from, else BSUP_FROM, else
// the connection's scheme; --connection, else BSUP_CONNECTION, else the driver's own variables
// (postgres: POSTGRES_SUPERVISOR_URL, DATABASE_URL; consul: CONSUL_HTTP_ADDR, CONSUL_ADDRESS);
// with neither, the embedded sqlite database. Throws a usage Error on an unknown driver or scheme.
ConnectionSettings resolve_connection(const ConnectionRequest& request, const Environment& env);

} // namespace bsup::core
