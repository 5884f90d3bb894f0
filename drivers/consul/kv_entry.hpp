#pragma once

// A key in Consul's KV store as bsup reads and writes it: the entry `blacksmith/<key>`, whose
// value is JSON naming the holder (bsup's session ID, acquirer name and address, when it was
// acquired), and its mapping to the model's Semaphore.

#include "core/model.hpp"

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace bsup::drivers::consul {

constexpr std::string_view k_prefix = "blacksmith/";

struct KvEntry {
    std::string key;     // without the prefix
    std::string session; // the Consul session that holds it; empty when free
    std::int64_t lock_index = 0;
    std::uint64_t modify_index = 0;
    std::string value; // decoded
};

// An entry of Consul's JSON answer (GET /v1/kv/..., or a transaction's KV result).
KvEntry parse_entry(const nlohmann::ordered_json& j);

// What bsup writes as the value when `holder` (bsup's session) acquires a key.
std::string lock_value(const core::Session& holder, core::TimePoint acquired_at);

// The status of the key in `entry`. A key held by a Consul session bsup did not create reads
// as acquired, with that Consul session's ID and no name or address.
core::Semaphore to_semaphore(const KvEntry& entry);
core::Semaphore free_semaphore(const std::string& key);

std::string base64_encode(std::string_view data);
std::string base64_decode(std::string_view text);

} // namespace bsup::drivers::consul
