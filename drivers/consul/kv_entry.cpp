#include "drivers/consul/kv_entry.hpp"

#include "core/json.hpp"

#include <array>

namespace bsup::drivers::consul {

namespace {

std::string string_or_empty(const nlohmann::ordered_json& j, const char* field) {
    auto it = j.find(field);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// An integer field, 0 when missing or not an integer: converting a float like 1e300 to an integer
// type would be undefined behaviour (found by fuzz/consul_kv.cpp).
template <typename T> T integer_or_zero(const nlohmann::ordered_json& j, const char* field) {
    auto it = j.find(field);
    return it != j.end() && it->is_number_integer() ? it->get<T>() : T{};
}

} // namespace

KvEntry parse_entry(const nlohmann::ordered_json& j) {
    KvEntry entry;
    std::string key = string_or_empty(j, "Key");
    entry.key = key.rfind(k_prefix, 0) == 0 ? key.substr(k_prefix.size()) : key;
    entry.session = string_or_empty(j, "Session");
    entry.lock_index = integer_or_zero<std::int64_t>(j, "LockIndex");
    entry.modify_index = integer_or_zero<std::uint64_t>(j, "ModifyIndex");
    entry.value = base64_decode(string_or_empty(j, "Value"));
    return entry;
}

std::string lock_value(const core::Session& holder, core::TimePoint acquired_at) {
    nlohmann::ordered_json value{{"session_id", holder.id},
                                 {"acquirer_name", holder.service.name},
                                 {"acquirer_address", holder.service.address},
                                 {"acquired_at", core::format_rfc3339(acquired_at)}};
    return value.dump();
}

core::Semaphore free_semaphore(const std::string& key) {
    core::Semaphore s;
    s.key = key;
    s.is_acquired = false;
    return s;
}

core::Semaphore to_semaphore(const KvEntry& entry) {
    if (entry.session.empty()) {
        return free_semaphore(entry.key);
    }
    core::Semaphore s;
    s.key = entry.key;
    s.is_acquired = true;
    s.session_id = entry.session;
    s.lock_index = entry.lock_index;
    nlohmann::ordered_json value = nlohmann::ordered_json::parse(entry.value, nullptr, false);
    if (value.is_object() && value.contains("session_id")) {
        s.session_id = string_or_empty(value, "session_id");
        s.acquirer_name = string_or_empty(value, "acquirer_name");
        s.acquirer_address = string_or_empty(value, "acquirer_address");
        s.acquired_at = core::parse_rfc3339(string_or_empty(value, "acquired_at"));
        if (s.session_id.empty()) {
            s.session_id = entry.session;
        }
    }
    return s;
}

std::optional<core::Semaphore> lapsed_holder(const KvEntry& entry) {
    if (!entry.session.empty() || entry.value.empty()) {
        return std::nullopt;
    }
    nlohmann::ordered_json value = nlohmann::ordered_json::parse(entry.value, nullptr, false);
    if (!value.is_object() || string_or_empty(value, "session_id").empty()) {
        return std::nullopt;
    }
    KvEntry held = entry;
    held.session = string_or_empty(value, "session_id");
    return to_semaphore(held);
}

std::string event_value(const core::Event& event) {
    return nlohmann::ordered_json(event).dump();
}

std::optional<core::Event> parse_event(const std::string& value) {
    nlohmann::ordered_json j = nlohmann::ordered_json::parse(value, nullptr, false);
    if (!j.is_object()) {
        return std::nullopt;
    }
    std::optional<core::TimePoint> time = core::parse_rfc3339(string_or_empty(j, "time"));
    std::optional<core::EventKind> kind = core::parse_event_kind(string_or_empty(j, "event"));
    if (!time || !kind) {
        return std::nullopt;
    }
    core::Event e;
    e.time = *time;
    e.kind = *kind;
    e.key = string_or_empty(j, "key");
    e.session_id = string_or_empty(j, "session_id");
    e.acquirer_name = string_or_empty(j, "acquirer_name");
    e.acquirer_address = string_or_empty(j, "acquirer_address");
    if (auto it = j.find("lock_index"); it != j.end() && it->is_number_integer()) {
        e.lock_index = it->get<std::int64_t>();
    }
    if (auto it = j.find("reason"); it != j.end() && it->is_string()) {
        e.reason = it->get<std::string>();
    }
    return e;
}

} // namespace bsup::drivers::consul
