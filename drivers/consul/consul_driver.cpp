#include "drivers/consul/consul_driver.hpp"

#include "core/errors.hpp"
#include "drivers/consul/consul_config.hpp"
#include "drivers/consul/http_client.hpp"
#include "drivers/consul/kv_entry.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <map>
#include <nlohmann/json.hpp>
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
            if (entry.session == session.handle && release(entry.key, session.handle)) {
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
        std::optional<KvEntry> current = read_entry(lock.key);
        if (current && !current->session.empty()) {
            return core::Acquisition{current->session == session.handle,
                                     consul::to_semaphore(*current)};
        }
        // Free: take it in a transaction, whose answer carries the new LockIndex.
        std::string value = consul::lock_value(session, core::now());
        Json txn = Json::array({Json{{"KV", Json{{"Verb", "lock"},
                                                 {"Key", key_name(lock.key)},
                                                 {"Value", consul::base64_encode(value)},
                                                 {"Session", session.handle}}}}});
        Response r = http().put("/v1/txn", txn.dump());
        if (r.status == 200) {
            Json answer = parse_json(http(), "PUT /v1/txn", r);
            KvEntry entry = consul::parse_entry(answer.at("Results").at(0).at("KV"));
            entry.value = value;
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
        // One transaction: read who held it, check that it is this session, release.
        std::string key = key_name(lock.key);
        Json txn = Json::array(
            {Json{{"KV", Json{{"Verb", "get"}, {"Key", key}}}},
             Json{{"KV",
                   Json{{"Verb", "check-session"}, {"Key", key}, {"Session", session.handle}}}},
             Json{{"KV", Json{{"Verb", "unlock"}, {"Key", key}, {"Session", session.handle}}}}});
        Response r = http().put("/v1/txn", txn.dump());
        if (r.status == 200) {
            Json answer = parse_json(http(), "PUT /v1/txn", r);
            return core::Release{true, consul::to_semaphore(consul::parse_entry(
                                           answer.at("Results").at(0).at("KV")))};
        }
        if (r.status != 409) {
            consul::unexpected(http(), "PUT /v1/txn", r);
        }
        return core::Release{false, status(lock)};
    }

    core::Release force_unlock(const core::Lock& lock) override {
        std::optional<KvEntry> current = read_entry(lock.key);
        if (!current || current->session.empty()) {
            return core::Release{false, consul::free_semaphore(lock.key)};
        }
        // Consul releases a key with the holder's own session ID, whoever asks.
        return core::Release{release(lock.key, current->session), consul::to_semaphore(*current)};
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

    void wait_for_change(const core::Lock& lock, const core::Semaphore& last,
                         core::TimePoint deadline) override {
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
        if (r.status != 200 && r.status != 404) {
            consul::unexpected(http(), "GET /v1/kv (blocking)", r);
        }
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
    std::string key_path(const std::string& key) {
        std::string path = "/v1/kv/" + std::string(consul::k_prefix);
        std::size_t start = 0;
        for (;;) {
            std::size_t slash = key.find('/', start);
            path += http().escape(key.substr(start, slash - start));
            if (slash == std::string::npos) {
                return path;
            }
            path += '/';
            start = slash + 1;
        }
    }

    std::optional<KvEntry> read_entry(const std::string& key) {
        Response r = http().get(key_path(key));
        if (r.index) {
            m_index[key] = *r.index;
        }
        if (r.status == 404) {
            return std::nullopt;
        }
        if (r.status != 200) {
            consul::unexpected(http(), "GET /v1/kv", r);
        }
        Json answer = parse_json(http(), "GET /v1/kv", r);
        if (!answer.is_array() || answer.empty()) {
            consul::unexpected(http(), "GET /v1/kv", r);
        }
        return consul::parse_entry(answer[0]);
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

    bool release(const std::string& key, const std::string& holder) {
        Response r = http().put(key_path(key) + "?release=" + http().escape(holder));
        if (r.status != 200) {
            consul::unexpected(http(), "PUT /v1/kv?release", r);
        }
        return r.body.find("true") != std::string::npos;
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
    core::TimePoint m_last_wait{};
};

} // namespace

std::unique_ptr<core::Supervisor> make_consul_supervisor(const core::ConnectionSettings& settings) {
    return std::make_unique<ConsulSupervisor>(settings);
}

} // namespace bsup::drivers
