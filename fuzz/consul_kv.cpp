// drivers/consul/kv_entry: Consul's KV answers (GET /v1/kv/...?recurse, a transaction's KV
// result) as bsup maps them: parse_entry, to_semaphore, lapsed_holder, parse_event, base64. A held
// key reads as acquired by a session, a free one as free; base64 round-trips; the holder bsup
// writes (lock_value) reads back. An entry of the wrong JSON type throws nlohmann's exception,
// which the driver lets through.
#include "drivers/consul/kv_entry.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace {

using namespace bsup;
using Json = nlohmann::ordered_json;

void check(const Json& item) {
    drivers::consul::KvEntry entry;
    try {
        entry = drivers::consul::parse_entry(item);
    } catch (const Json::exception&) {
        return;
    }
    core::Semaphore s = drivers::consul::to_semaphore(entry);
    if (s.key != entry.key || s.is_acquired != !entry.session.empty() ||
        (*s.is_acquired && s.session_id.empty())) {
        std::abort();
    }
    if (drivers::consul::base64_decode(drivers::consul::base64_encode(entry.value)) !=
        entry.value) {
        std::abort();
    }
    (void)drivers::consul::parse_event(entry.value); // a history entry's value
    auto lapsed = drivers::consul::lapsed_holder(entry);
    if (lapsed && (!entry.session.empty() || !lapsed->is_acquired.value_or(false))) {
        std::abort(); // only a free entry names a lapsed holder, and names it as a holder
    }
    if (entry.session.empty()) {
        return;
    }
    // What bsup writes when it takes the key reads back as that holder.
    core::Session holder;
    holder.id = entry.session;
    holder.service.name = entry.key;
    holder.service.address = entry.session;
    core::TimePoint at =
        core::from_unix_ms(static_cast<long long>(entry.modify_index % (1LL << 42)));
    drivers::consul::KvEntry written = entry;
    written.value = drivers::consul::lock_value(holder, at);
    core::Semaphore back = drivers::consul::to_semaphore(written);
    if (back.session_id != holder.id || back.acquirer_name != holder.service.name ||
        back.acquirer_address != holder.service.address || back.acquired_at != at) {
        std::abort();
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    Json j = Json::parse(text, nullptr, false);
    if (j.is_discarded()) {
        return 0;
    }
    if (j.is_array()) {
        for (const Json& item : j) {
            check(item);
        }
    } else if (j.is_object() && j.contains("Results") && j["Results"].is_array()) {
        for (const Json& result : j["Results"]) { // PUT /v1/txn
            if (result.is_object() && result.contains("KV")) {
                check(result["KV"]);
            }
        }
    } else {
        check(j);
    }
    return 0;
}
