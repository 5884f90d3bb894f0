#include "core/json.hpp"

namespace bsup::core {

nlohmann::ordered_json time_json(const std::optional<TimePoint>& t) {
    return t ? nlohmann::ordered_json(format_rfc3339(*t)) : nlohmann::ordered_json(nullptr);
}

void to_json(nlohmann::ordered_json& j, const Semaphore& s) {
    j = nlohmann::ordered_json::object();
    j["key"] = s.key;
    j["is_applicable"] = s.is_applicable;
    j["is_acquired"] =
        s.is_acquired ? nlohmann::ordered_json(*s.is_acquired) : nlohmann::ordered_json(nullptr);
    // SPEC: the three strings are left out when the key is free.
    if (!s.session_id.empty()) {
        j["acquirer_name"] = s.acquirer_name;
        j["acquirer_address"] = s.acquirer_address;
        j["session_id"] = s.session_id;
    }
    j["lock_index"] =
        s.lock_index ? nlohmann::ordered_json(*s.lock_index) : nlohmann::ordered_json(nullptr);
    j["acquired_at"] = time_json(s.acquired_at);
    j["expires_at"] = time_json(s.expires_at);
}

void to_json(nlohmann::ordered_json& j, const Event& e) {
    j = nlohmann::ordered_json::object();
    j["time"] = format_rfc3339(e.time);
    j["key"] = e.key;
    j["event"] = to_string(e.kind);
    j["session_id"] = e.session_id;
    j["acquirer_name"] = e.acquirer_name;
    j["acquirer_address"] = e.acquirer_address;
    j["lock_index"] =
        e.lock_index ? nlohmann::ordered_json(*e.lock_index) : nlohmann::ordered_json(nullptr);
    j["reason"] = e.reason ? nlohmann::ordered_json(*e.reason) : nlohmann::ordered_json(nullptr);
}

void to_json(nlohmann::ordered_json& j, const Service& s) {
    j = nlohmann::ordered_json{{"id", s.id},           {"name", s.name}, {"version", s.version},
                               {"address", s.address}, {"tags", s.tags}, {"meta", s.meta}};
}

void from_json(const nlohmann::ordered_json& j, Service& s) {
    s.id = j.value("id", "");
    s.name = j.value("name", "");
    s.version = j.value("version", "");
    s.address = j.value("address", "");
    s.tags = j.value("tags", std::vector<std::string>{});
    s.meta = j.value("meta", std::map<std::string, std::string>{});
}

} // namespace bsup::core
