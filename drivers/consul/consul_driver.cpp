#include "drivers/consul/consul_driver.hpp"

#include "core/errors.hpp"
#include "drivers/consul/consul_config.hpp"
#include "drivers/consul/http_client.hpp"
#include "drivers/consul/kv_entry.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

namespace bsup::drivers {

namespace {

using consul::HttpClient;
using consul::KvEntry;
using consul::Response;
using Json = nlohmann::ordered_json;

constexpr core::Duration k_default_lock_delay = std::chrono::seconds(15); // Consul's own
constexpr core::Duration k_max_blocking_wait = std::chrono::minutes(5);
constexpr core::Duration k_min_wait_spacing = std::chrono::milliseconds(50);
constexpr core::Duration k_lock_delay_poll = std::chrono::milliseconds(250);
constexpr const char* k_session_meta = "bsup-session"; // the service's Consul session
constexpr const char* k_version_meta = "version";      // Consul services have no version field
constexpr std::size_t k_history_bound = 100;           // events kept per key
constexpr std::int64_t k_trim_every = 10;              // grants between two trims of a history
constexpr int k_release_attempts = 3;
constexpr std::size_t k_max_txn_ops = 64; // Consul's limit per transaction

Json kv_op(Json op) {
    return Json{{"KV", std::move(op)}};
}

// The event about `holder` (its key, session and grant), now by this machine's clock.
core::Event event_of(core::EventKind kind, const core::Semaphore& holder,
                     const std::string& reason = {}) {
    core::Event e;
    e.time = core::now();
    e.key = holder.key;
    e.kind = kind;
    e.session_id = holder.session_id;
    e.acquirer_name = holder.acquirer_name;
    e.acquirer_address = holder.acquirer_address;
    e.lock_index = holder.lock_index;
    if (!reason.empty()) {
        e.reason = reason;
    }
    return e;
}

Json parse_json(const HttpClient& http, const char* what, const Response& response) {
    Json j = Json::parse(response.body, nullptr, false);
    if (j.is_discarded()) {
        consul::unexpected(http, what, response);
    }
    return j;
}

// "host:port" -> ("host", port); ":9090" -> ("", 9090); "host" -> ("host", 0).
std::pair<std::string, int> split_address(const std::string& address) {
    std::size_t colon = address.rfind(':');
    if (colon == std::string::npos || address.find(']', colon) != std::string::npos) {
        return {address, 0};
    }
    std::string port = address.substr(colon + 1);
    if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), ::isdigit)) {
        return {address, 0};
    }
    std::string host = address.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    return {host, std::stoi(port)};
}

std::string join_address(const std::string& host, int port) {
    if (port == 0) {
        return host;
    }
    if (host.find(':') != std::string::npos) {
        return fmt::format("[{}]:{}", host, port); // IPv6
    }
    return fmt::format("{}:{}", host, port);
}

class ConsulSupervisor final : public core::Supervisor {
  public:
    explicit ConsulSupervisor(const core::ConnectionSettings& settings) : m_settings(settings) {}

    core::Session init(const std::string& session_id,
                       const core::SessionRequest& request) override {
        core::Duration lock_delay = m_settings.lock_delay.value_or(k_default_lock_delay);
        Json create{{"Name", fmt::format("bsup {} {}", request.service.name, session_id)},
                    {"TTL", core::format_duration(request.ttl)},
                    {"Behavior", "release"},
                    {"LockDelay", core::format_duration(lock_delay)}};
        Response r = http().put("/v1/session/create", create.dump());
        if (r.status != 200) {
            consul::unexpected(http(), "PUT /v1/session/create", r);
        }
        Json created = parse_json(http(), "PUT /v1/session/create", r);
        core::Session session;
        session.id = session_id;
        session.handle = created.value("ID", "");
        session.service = request.service;
        session.ttl = request.ttl;
        session.created_at = core::now();
        session.expires_at = session.created_at + request.ttl;
        if (session.handle.empty()) {
            consul::unexpected(http(), "PUT /v1/session/create", r);
        }
        try {
            register_service(session, request.check_http);
        } catch (...) {
            try {
                http().put("/v1/session/destroy/" + http().escape(session.handle));
            } catch (const core::Error&) {
                // The session lapses with its TTL.
            }
            throw;
        }
        return session;
    }

    std::vector<std::string> shutdown(const core::Session& session) override {
        // Release explicitly before destroying: Consul applies the lock delay to the keys of a
        // destroyed session, not to released ones.
        std::vector<std::string> released;
        for (const KvEntry& entry : list_entries()) {
            if (entry.session == session.handle &&
                release_recorded(entry, session.handle, core::EventKind::release)) {
                released.push_back(entry.key);
            }
        }
        Response r = http().put("/v1/session/destroy/" + http().escape(session.handle));
        if (r.status != 200 && r.status != 404) {
            consul::unexpected(http(), "PUT /v1/session/destroy", r);
        }
        if (!session.service.id.empty()) {
            r = http().put("/v1/agent/service/deregister/" + http().escape(session.service.id));
            if (r.status != 200 && r.status != 404) {
                consul::unexpected(http(), "PUT /v1/agent/service/deregister", r);
            }
        }
        return released;
    }

    core::Acquisition lock(const core::Session& session, const core::Lock& lock) override {
        std::optional<KvEntry> current = seen_or_read(m_woken_by, lock.key);
        if (current && !current->session.empty()) {
            return core::Acquisition{current->session == session.handle,
                                     consul::to_semaphore(*current)};
        }
        // Free: take it in a transaction, whose answer carries the new LockIndex, provided the
        // key is still as read (so that the LockIndex recorded with the grant is the one Consul
        // gives, and a lapsed holder's expiry is recorded once). The history entries go in the
        // same transaction.
        std::string value = consul::lock_value(session, core::now());
        std::string key = key_name(lock.key);
        Json txn = Json::array();
        txn.push_back(
            current
                ? kv_op({{"Verb", "check-index"}, {"Key", key}, {"Index", current->modify_index}})
                : kv_op({{"Verb", "check-not-exists"}, {"Key", key}}));
        txn.push_back(kv_op({{"Verb", "lock"},
                             {"Key", key},
                             {"Value", consul::base64_encode(value)},
                             {"Session", session.handle}}));
        std::vector<core::Event> events;
        if (std::optional<core::Semaphore> lapsed =
                current ? consul::lapsed_holder(*current) : std::nullopt) {
            events.push_back(event_of(core::EventKind::expiry, *lapsed));
        }
        KvEntry granted;
        granted.key = lock.key;
        granted.session = session.handle;
        granted.lock_index = current ? current->lock_index + 1 : 1;
        granted.value = value;
        events.push_back(event_of(core::EventKind::grant, consul::to_semaphore(granted)));
        add_history(txn, events);
        Response r = http().put("/v1/txn", txn.dump());
        if (r.status == 200) {
            Json answer = parse_json(http(), "PUT /v1/txn", r);
            KvEntry entry = granted;
            for (const Json& result : answer.at("Results")) {
                KvEntry e = consul::parse_entry(result.at("KV"));
                if (e.key == lock.key) {
                    entry = e; // the check's answer first, then the lock's
                }
            }
            entry.value = value;
            // Trimming costs a request: every k_trim_every grants is enough, since a grant
            // brings at most three events (an expiry, itself, its release).
            if (entry.lock_index % k_trim_every == 0) {
                trim_history(lock.key);
            }
            m_granted[lock.key] = entry;
            return core::Acquisition{true, consul::to_semaphore(entry)};
        }
        if (r.status != 409) {
            consul::unexpected(http(), "PUT /v1/txn", r);
        }
        std::string why = txn_error(r);
        if (why.find("invalid session") != std::string::npos) {
            throw core::SessionGone(session.id);
        }
        if (why.find("lock delay") != std::string::npos) {
            // Its last holder's session ended without releasing it: Consul keeps it free for
            // that session's lock delay. Free, yet not ours.
            return core::Acquisition{false, consul::free_semaphore(lock.key)};
        }
        // Taken by another between our read and our write.
        std::optional<KvEntry> now_held = read_entry(lock.key);
        if (!now_held) {
            return core::Acquisition{false, consul::free_semaphore(lock.key)};
        }
        return core::Acquisition{now_held->session == session.handle,
                                 consul::to_semaphore(*now_held)};
    }

    core::Release unlock(const core::Session& session, const core::Lock& lock) override {
        // Read who holds it; then one transaction checks that it is still so and this session,
        // releases, and records the release. A default read may be stale just after a leader
        // election (a restarted agent), so "not ours" is asked again with ?consistent before
        // bsup answers it, and a transaction that found the key changed is tried again.
        for (int attempt = 0;; ++attempt) {
            std::optional<KvEntry> current =
                attempt == 0 ? seen_or_read(m_granted, lock.key) : read_entry(lock.key, true);
            bool ours = current && current->session == session.handle;
            if (!ours && attempt > 0) {
                return core::Release{false, current ? consul::to_semaphore(*current)
                                                    : consul::free_semaphore(lock.key)};
            }
            if (ours && release_recorded(*current, session.handle, core::EventKind::release)) {
                return core::Release{true, consul::to_semaphore(*current)};
            }
            if (attempt == k_release_attempts) {
                throw core::Error(core::ExitCode::backend, "backend_error",
                                  fmt::format("Consul at {}: cannot release {}: the key changed "
                                              "under every attempt",
                                              http().display(), lock.key),
                                  "retry; the key stays held by this session until then");
            }
        }
    }

    core::Release force_unlock(const core::Lock& lock, const std::string& reason) override {
        std::optional<KvEntry> current = read_entry(lock.key);
        if (!current || current->session.empty()) {
            return core::Release{false, consul::free_semaphore(lock.key)};
        }
        // Consul releases a key with the holder's own session ID, whoever asks.
        return core::Release{
            release_recorded(*current, current->session, core::EventKind::force, reason),
            consul::to_semaphore(*current)};
    }

    std::vector<core::Event> history(const std::optional<std::string>& key, int limit) override {
        std::string folder = std::string(consul::k_history_prefix) + (key ? *key + "/" : "");
        Response r = http().get(kv_path(folder) + "?recurse");
        if (r.status == 404) {
            return {};
        }
        if (r.status != 200) {
            consul::unexpected(http(), "GET /v1/kv?recurse (history)", r);
        }
        // Entry names sort by time: <ms since the epoch, 16 digits>-<n>-<random>.
        std::vector<std::pair<std::string, core::Event>> named;
        for (const Json& item : parse_json(http(), "GET /v1/kv?recurse (history)", r)) {
            KvEntry entry = consul::parse_entry(item);
            std::string rest = entry.key.substr(std::min(folder.size(), entry.key.size()));
            if (key && rest.find('/') != std::string::npos) {
                continue; // the history of a longer key (of "a/b" when asked for "a")
            }
            std::optional<core::Event> event = consul::parse_event(entry.value);
            if (event) {
                std::size_t slash = entry.key.rfind('/');
                named.emplace_back(entry.key.substr(slash + 1), std::move(*event));
            }
        }
        std::stable_sort(named.begin(), named.end(),
                         [](const auto& a, const auto& b) { return a.first < b.first; });
        std::size_t first = named.size() > static_cast<std::size_t>(limit)
                                ? named.size() - static_cast<std::size_t>(limit)
                                : 0;
        std::vector<core::Event> out;
        for (std::size_t i = first; i < named.size(); ++i) {
            out.push_back(std::move(named[i].second));
        }
        return out;
    }

    core::Semaphore status(const core::Lock& lock) override {
        std::optional<KvEntry> entry = read_entry(lock.key);
        return entry ? consul::to_semaphore(*entry) : consul::free_semaphore(lock.key);
    }

    std::vector<core::Semaphore> held() override {
        std::vector<core::Semaphore> out;
        for (const KvEntry& entry : list_entries()) {
            if (!entry.session.empty()) {
                out.push_back(consul::to_semaphore(entry));
            }
        }
        std::sort(out.begin(), out.end(),
                  [](const core::Semaphore& a, const core::Semaphore& b) { return a.key < b.key; });
        return out;
    }

    core::Session renew(const core::Session& session) override {
        Response r = http().put("/v1/session/renew/" + http().escape(session.handle));
        if (r.status == 404) {
            throw core::SessionGone(session.id);
        }
        if (r.status != 200) {
            consul::unexpected(http(), "PUT /v1/session/renew", r);
        }
        Json answer = parse_json(http(), "PUT /v1/session/renew", r);
        core::Session renewed = session;
        if (answer.is_array() && !answer.empty() && answer[0].value("TTL", "") != "") {
            try {
                renewed.ttl = core::parse_duration(answer[0].value("TTL", ""), "TTL");
            } catch (const core::Error&) {
                // Keep the TTL asked for.
            }
        }
        renewed.expires_at = core::now() + renewed.ttl;
        return renewed;
    }

    std::vector<core::Service> services() override {
        Response r = http().get("/v1/agent/services");
        if (r.status != 200) {
            consul::unexpected(http(), "GET /v1/agent/services", r);
        }
        Json answer = parse_json(http(), "GET /v1/agent/services", r);
        std::vector<core::Service> out;
        std::vector<std::string> sessions;
        for (const auto& [id, item] : answer.items()) {
            core::Service s;
            s.id = item.value("ID", id);
            s.name = item.value("Service", "");
            s.address = join_address(item.value("Address", ""), item.value("Port", 0));
            if (item.contains("Tags") && item["Tags"].is_array()) {
                s.tags = item["Tags"].get<std::vector<std::string>>();
            }
            std::string session;
            if (item.contains("Meta") && item["Meta"].is_object()) {
                for (const auto& [k, v] : item["Meta"].items()) {
                    std::string text = v.is_string() ? v.get<std::string>() : v.dump();
                    if (k == k_session_meta) {
                        session = text;
                    } else if (k == k_version_meta) {
                        s.version = text;
                    } else {
                        s.meta[k] = text;
                    }
                }
            }
            sessions.push_back(session);
            out.push_back(std::move(s));
        }
        // A service bsup registered lives as long as its Consul session (a crashed job's
        // service lingers on the agent until deregistered): list only those of live sessions.
        if (std::any_of(sessions.begin(), sessions.end(),
                        [](const std::string& s) { return !s.empty(); })) {
            std::set<std::string> live = live_sessions();
            std::vector<core::Service> kept;
            for (std::size_t i = 0; i < out.size(); ++i) {
                if (sessions[i].empty() || live.count(sessions[i]) > 0) {
                    kept.push_back(std::move(out[i]));
                }
            }
            out = std::move(kept);
        }
        std::sort(out.begin(), out.end(), [](const core::Service& a, const core::Service& b) {
            return std::tie(a.name, a.id) < std::tie(b.name, b.id);
        });
        return out;
    }

    void wait_for_change(const core::Session& /*session*/, const core::Lock& lock,
                         const core::Semaphore& last, core::TimePoint deadline) override {
        // Rate limit, as Consul's docs ask of blocking-query loops.
        core::Duration since = core::now() - m_last_wait;
        if (since < k_min_wait_spacing) {
            std::this_thread::sleep_for(k_min_wait_spacing - since);
        }
        m_last_wait = core::now();
        core::Duration left = deadline - core::now();
        if (left <= core::Duration(0)) {
            return;
        }
        if (!last.is_acquired.value_or(false)) {
            // Free but not granted: the lock delay of a lapsed holder. Nothing will change in
            // the KV store when it ends, so a blocking query would sleep to the deadline.
            std::this_thread::sleep_for(std::min(left, k_lock_delay_poll));
            return;
        }
        std::uint64_t& index = m_index[lock.key];
        core::Duration wait = std::min(left, k_max_blocking_wait);
        Response r = http().get(fmt::format("{}?index={}&wait={}ms", key_path(lock.key),
                                            std::max<std::uint64_t>(index, 1), wait.count()),
                                wait + wait / 16);
        m_woken_by[lock.key] = entry_of(r, "GET /v1/kv (blocking)");
        // Consul's rules: an index that goes backwards starts over.
        std::uint64_t next = r.index.value_or(0);
        index = next < index ? 0 : next;
    }

  private:
    HttpClient& http() {
        if (!m_http) {
            m_http = std::make_unique<HttpClient>(consul::load_config(m_settings));
        }
        return *m_http;
    }

    static std::string key_name(const std::string& key) {
        return std::string(consul::k_prefix) + key;
    }

    // /v1/kv/blacksmith/<key>, each segment percent-encoded.
    std::string key_path(const std::string& key) { return kv_path(key_name(key)); }

    // /v1/kv/<path>, each segment percent-encoded; a trailing '/' is kept.
    std::string kv_path(const std::string& path) {
        std::string out = "/v1/kv/";
        std::size_t start = 0;
        while (start < path.size()) {
            std::size_t slash = path.find('/', start);
            out += http().escape(path.substr(start, slash - start));
            if (slash == std::string::npos) {
                break;
            }
            out += '/';
            start = slash + 1;
        }
        return out;
    }

    static std::string history_folder(const std::string& key) {
        return std::string(consul::k_history_prefix) + key + "/";
    }

    // Appends to `txn` one "set" of a history entry for each event.
    void add_history(Json& txn, const std::vector<core::Event>& events) {
        std::uint32_t nonce = m_random();
        for (std::size_t i = 0; i < events.size(); ++i) {
            const core::Event& e = events[i];
            std::string name = fmt::format("{:016d}-{}-{:08x}", core::to_unix_ms(e.time), i, nonce);
            txn.push_back(kv_op({{"Verb", "set"},
                                 {"Key", history_folder(e.key) + name},
                                 {"Value", consul::base64_encode(consul::event_value(e))}}));
        }
    }

    // Deletes the oldest history entries of `key` beyond k_history_bound: one GET of the names,
    // and a transaction only when there are too many.
    void trim_history(const std::string& key) {
        Response r = http().get(kv_path(history_folder(key)) + "?keys&separator=/");
        if (r.status == 404) {
            return;
        }
        if (r.status != 200) {
            consul::unexpected(http(), "GET /v1/kv?keys (history)", r);
        }
        std::vector<std::string> names;
        for (const Json& item : parse_json(http(), "GET /v1/kv?keys (history)", r)) {
            if (item.is_string() && item.get<std::string>().back() != '/') {
                names.push_back(item.get<std::string>());
            }
        }
        if (names.size() <= k_history_bound) {
            return;
        }
        std::sort(names.begin(), names.end());
        std::size_t excess = std::min(names.size() - k_history_bound, k_max_txn_ops);
        Json txn = Json::array();
        for (std::size_t i = 0; i < excess; ++i) {
            txn.push_back(kv_op({{"Verb", "delete"}, {"Key", names[i]}}));
        }
        Response d = http().put("/v1/txn", txn.dump());
        if (d.status != 200 && d.status != 409) {
            consul::unexpected(http(), "PUT /v1/txn (history)", d);
        }
    }

    // Releases `entry` held by Consul session `holder` in one transaction that checks the key is
    // still as read, empties its value (a free key naming a holder means a lapsed one) and
    // records the event. False when the key changed meanwhile.
    bool release_recorded(const KvEntry& entry, const std::string& holder, core::EventKind kind,
                          const std::string& reason = {}) {
        std::string key = key_name(entry.key);
        Json txn = Json::array(
            {kv_op({{"Verb", "check-index"}, {"Key", key}, {"Index", entry.modify_index}}),
             kv_op({{"Verb", "unlock"}, {"Key", key}, {"Value", ""}, {"Session", holder}})});
        add_history(txn, {event_of(kind, consul::to_semaphore(entry), reason)});
        Response r = http().put("/v1/txn", txn.dump());
        if (r.status == 409) {
            return false;
        }
        if (r.status != 200) {
            consul::unexpected(http(), "PUT /v1/txn", r);
        }
        return true;
    }

    // `consistent`: through the leader, verified (Consul's ?consistent), never stale.
    std::optional<KvEntry> read_entry(const std::string& key, bool consistent = false) {
        Response r = http().get(key_path(key) + (consistent ? "?consistent" : ""));
        if (r.index) {
            m_index[key] = *r.index;
        }
        return entry_of(r, "GET /v1/kv");
    }

    // The entry of a read of one key: none for 404.
    std::optional<KvEntry> entry_of(const Response& r, const char* what) {
        if (r.status == 404) {
            return std::nullopt;
        }
        if (r.status != 200) {
            consul::unexpected(http(), what, r);
        }
        Json answer = parse_json(http(), what, r);
        if (!answer.is_array() || answer.empty()) {
            consul::unexpected(http(), what, r);
        }
        return consul::parse_entry(answer[0]);
    }

    // The entry `seen` keeps for `key` (taken out: used once), else a read.
    std::optional<KvEntry> seen_or_read(std::map<std::string, std::optional<KvEntry>>& seen,
                                        const std::string& key) {
        auto node = seen.extract(key);
        return node ? std::move(node.mapped()) : read_entry(key);
    }

    // Every entry under the prefix, in one request.
    std::vector<KvEntry> list_entries() {
        Response r = http().get("/v1/kv/" + std::string(consul::k_prefix) + "?recurse");
        if (r.status == 404) {
            return {};
        }
        if (r.status != 200) {
            consul::unexpected(http(), "GET /v1/kv?recurse", r);
        }
        Json answer = parse_json(http(), "GET /v1/kv?recurse", r);
        std::vector<KvEntry> out;
        for (const Json& item : answer) {
            out.push_back(consul::parse_entry(item));
        }
        return out;
    }

    std::set<std::string> live_sessions() {
        Response r = http().get("/v1/session/list");
        if (r.status != 200) {
            consul::unexpected(http(), "GET /v1/session/list", r);
        }
        std::set<std::string> out;
        for (const Json& item : parse_json(http(), "GET /v1/session/list", r)) {
            out.insert(item.value("ID", ""));
        }
        return out;
    }

    static std::string txn_error(const Response& r) {
        Json answer = Json::parse(r.body, nullptr, false);
        std::string out;
        if (answer.is_object() && answer.contains("Errors") && answer["Errors"].is_array()) {
            for (const Json& e : answer["Errors"]) {
                out += e.value("What", "") + "; ";
            }
        }
        return out;
    }

    void register_service(const core::Session& session, const std::string& check_http) {
        const core::Service& service = session.service;
        auto [host, port] = split_address(service.address);
        Json meta = Json::object();
        for (const auto& [k, v] : service.meta) {
            meta[k] = v;
        }
        if (!service.version.empty()) {
            meta[k_version_meta] = service.version;
        }
        meta[k_session_meta] = session.handle;
        Json body{{"ID", service.id}, {"Name", service.name}, {"Tags", service.tags},
                  {"Address", host},  {"Port", port},         {"Meta", meta}};
        if (!check_http.empty()) {
            body["Check"] = Json{{"HTTP", check_http}, {"Interval", "10s"}, {"Timeout", "5s"}};
        }
        Response r = http().put("/v1/agent/service/register", body.dump());
        if (r.status != 200) {
            consul::unexpected(http(), "PUT /v1/agent/service/register", r);
        }
    }

    core::ConnectionSettings m_settings;
    std::unique_ptr<HttpClient> m_http;
    std::map<std::string, std::uint64_t> m_index; // X-Consul-Index of each key's last read
    std::mt19937 m_random{std::random_device{}()};
    core::TimePoint m_last_wait{};
    // Entries this process has just seen, each used once instead of a read, which spares a
    // request on each side of a hand-off: the one a blocking query returned (for the attempt
    // after it) and the one a grant wrote (for its release). Every write checks the ModifyIndex,
    // so an entry that changed since makes the transaction fail, not go wrong.
    std::map<std::string, std::optional<KvEntry>> m_woken_by;
    std::map<std::string, std::optional<KvEntry>> m_granted;
};

} // namespace

std::unique_ptr<core::Supervisor> make_consul_supervisor(const core::ConnectionSettings& settings) {
    return std::make_unique<ConsulSupervisor>(settings);
}

} // namespace bsup::drivers
