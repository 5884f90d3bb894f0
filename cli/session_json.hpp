#pragma once

#include "core/client.hpp"

#include <nlohmann/json.hpp>

namespace bsup::cli {

// The JSON form of a session, as register and renew print it.
nlohmann::ordered_json session_json(const core::Session& session, const core::ClientConfig& config);

} // namespace bsup::cli
