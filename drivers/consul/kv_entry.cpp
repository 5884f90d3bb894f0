#include "drivers/consul/kv_entry.hpp"

#include <array>

namespace bsup::drivers::consul {

namespace {

constexpr std::string_view k_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string string_or_empty(const nlohmann::ordered_json& j, const char* field) {
    auto it = j.find(field);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

} // namespace

std::string base64_encode(std::string_view data) {
    std::string out;
    out.reserve((data.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 2 < data.size(); i += 3) {
        auto n = static_cast<std::uint32_t>(static_cast<unsigned char>(data[i]) << 16 |
                                            static_cast<unsigned char>(data[i + 1]) << 8 |
                                            static_cast<unsigned char>(data[i + 2]));
        for (int shift : {18, 12, 6, 0}) {
            out += k_alphabet[(n >> shift) & 63];
        }
    }
    if (std::size_t rest = data.size() - i; rest > 0) {
        std::uint32_t n = static_cast<unsigned char>(data[i]) << 16;
        if (rest == 2) {
            n |= static_cast<unsigned char>(data[i + 1]) << 8;
        }
        out += k_alphabet[(n >> 18) & 63];
        out += k_alphabet[(n >> 12) & 63];
        out += rest == 2 ? k_alphabet[(n >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

std::string base64_decode(std::string_view text) {
    std::array<int, 256> table{};
    table.fill(-1);
    for (std::size_t i = 0; i < k_alphabet.size(); ++i) {
        table[static_cast<unsigned char>(k_alphabet[i])] = static_cast<int>(i);
    }
    std::string out;
    std::uint32_t buffer = 0;
    int bits = 0;
    for (char c : text) {
        int v = table[static_cast<unsigned char>(c)];
        if (v < 0) {
            continue; // padding, or anything else Consul would never send
        }
        buffer = (buffer << 6) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((buffer >> bits) & 0xff);
        }
    }
    return out;
}

KvEntry parse_entry(const nlohmann::ordered_json& j) {
    KvEntry entry;
    std::string key = string_or_empty(j, "Key");
    entry.key = key.rfind(k_prefix, 0) == 0 ? key.substr(k_prefix.size()) : key;
    entry.session = string_or_empty(j, "Session");
    entry.lock_index = j.value("LockIndex", std::int64_t{0});
    entry.modify_index = j.value("ModifyIndex", std::uint64_t{0});
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

} // namespace bsup::drivers::consul
