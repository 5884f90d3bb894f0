#pragma once

// A key in Consul's KV store as bsup reads and writes it: the entry `blacksmith/<key>`, whose
// value is JSON naming the holder (bsup's session ID, acquirer name and address, when it was
// acquired), and its mapping to the model's Semaphore.

#include "core/base64.hpp"
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

// The holder that a free entry still names: Consul releases the key of a session that lapsed (or
// was destroyed) but keeps its value, whereas bsup empties the value when it releases a key.
// Empty when the entry is held, or names no bsup holder.
std::optional<core::Semaphore> lapsed_holder(const KvEntry& entry);

// The history of keys lives under k_history_prefix + <key> + "/" (docs/DESIGN.md "History"):
// one entry an event, named so that names sort by time. Beside the locks' prefix, not under it,
// so that reading every lock (status, held) never carries the history; an ACL rule for
// key_prefix "blacksmith" covers both.
constexpr std::string_view k_history_prefix = "blacksmith-history/";

// An event as bsup stores it in KV (the JSON of `bsup history`), and back.
std::string event_value(const core::Event& event);
std::optional<core::Event> parse_event(const std::string& value);

using core::base64_decode;
using core::base64_encode;

} // namespace bsup::drivers::consul
