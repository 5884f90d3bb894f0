#include "cli/session_json.hpp"

#include "core/json.hpp"

namespace bsup::cli {

nlohmann::ordered_json session_json(const core::Session& session,
                                    const core::ClientConfig& config) {
    return nlohmann::ordered_json{
        {"session_id", session.id},
        {"driver", std::string(core::to_string(config.connection.driver))},
        {"endpoint", config.connection.endpoint},
        {"state_file", config.state_path.string()},
        {"service", session.service},
        {"ttl", core::format_duration(session.ttl)},
        {"created_at", core::format_rfc3339(session.created_at)},
        {"expires_at", core::time_json(session.expires_at)},
    };
}

} // namespace bsup::cli
