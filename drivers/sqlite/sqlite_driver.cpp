#include "drivers/sqlite/sqlite_driver.hpp"

#include "core/errors.hpp"
#include "core/json.hpp"
#include "drivers/sqlite/change_watch.hpp"
#include "drivers/sqlite/database.hpp"
#include "drivers/sqlite/schema.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <thread>

namespace bsup::drivers {

namespace {

using sqlite::Database;
using sqlite::Statement;

// One query shape for a key's status: the lock joined with its holder's session; the holder
// counts only while that session lives. Columns: key, holder alive, session_id, acquirer_name,
// acquirer_address, acquired_at_ms, lock_index, expires_at_ms.
const std::string k_status_select = fmt::format(
    R"sql(SELECT l.key, (l.is_acquired AND s.expires_at_ms > {0}), l.session_id, l.acquirer_name,
       l.acquirer_address, l.acquired_at_ms, l.lock_index, s.expires_at_ms
FROM locks l LEFT JOIN sessions s ON s.id = l.session_id)sql",
    sqlite::k_now_ms);

// The history keeps the newest k_history_bound events of all keys (docs/DESIGN.md "History").
constexpr int k_history_bound = 10000;

constexpr const char* k_event_columns =
    "events (at_ms, key, event, session_id, acquirer_name, acquirer_address, lock_index, reason)";

core::Semaphore read_semaphore(const Statement& row) {
    core::Semaphore s;
    s.key = row.text(0);
    s.is_acquired = row.integer(1) != 0;
    if (*s.is_acquired) {
        s.session_id = row.text(2);
        s.acquirer_name = row.text(3);
        s.acquirer_address = row.text(4);
        s.acquired_at = core::from_unix_ms(row.integer(5));
        s.lock_index = row.integer(6);
        s.expires_at = core::from_unix_ms(row.integer(7));
    }
    return s;
}

core::Semaphore free_semaphore(const std::string& key) {
    core::Semaphore s;
    s.key = key;
    s.is_acquired = false;
    return s;
}

std::string path_of(const core::ConnectionSettings& settings) {
    return settings.endpoint.substr(std::string_view("sqlite:").size());
}

class SqliteSupervisor final : public core::Supervisor {
  public:
    explicit SqliteSupervisor(const core::ConnectionSettings& settings)
        : m_path(path_of(settings)), m_timeout(settings.timeout) {}

    core::Session init(const std::string& session_id,
                       const core::SessionRequest& request) override {
        Database& database = db();
        Database::Transaction tx(database);
        release_lapsed_sessions();
        Statement insert(database, fmt::format(R"sql(
            INSERT INTO sessions (id, service_id, name, version, address, tags, meta, ttl_ms,
                                  created_at_ms, expires_at_ms)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, {0}, {0} + ?8)
            RETURNING created_at_ms, expires_at_ms)sql",
                                               sqlite::k_now_ms)
                                       .c_str());
        const core::Service& service = request.service;
        insert.bind(1, session_id)
            .bind(2, service.id)
            .bind(3, service.name)
            .bind(4, service.version)
            .bind(5, service.address)
            .bind(6, nlohmann::ordered_json(service.tags).dump())
            .bind(7, nlohmann::ordered_json(service.meta).dump())
            .bind(8, static_cast<std::int64_t>(request.ttl.count()));
        insert.step();
        core::Session session;
        session.id = session_id;
        session.handle = session_id;
        session.service = service;
        session.ttl = request.ttl;
        session.created_at = core::from_unix_ms(insert.integer(0));
        session.expires_at = core::from_unix_ms(insert.integer(1));
        insert.step();
        tx.commit();
        return session;
    }

    std::vector<std::string> shutdown(const core::Session& session) override {
        Database& database = db();
        Database::Transaction tx(database);
        std::vector<std::string> released;
        Statement held(database, fmt::format(R"sql(
            SELECT l.key FROM locks l JOIN sessions s ON s.id = l.session_id
            WHERE l.session_id = ?1 AND l.is_acquired AND s.expires_at_ms > {} ORDER BY l.key)sql",
                                             sqlite::k_now_ms)
                                     .c_str());
        held.bind(1, session.id);
        while (held.step()) {
            released.push_back(held.text(0));
        }
        // Released while the session lives; lapsed already otherwise (its keys were free).
        Statement history(database, fmt::format(R"sql(
            INSERT INTO {1}
            SELECT {0}, l.key,
                   CASE WHEN s.expires_at_ms > {0} THEN 'release' ELSE 'expiry' END,
                   l.session_id, l.acquirer_name, l.acquirer_address, l.lock_index, NULL
            FROM locks l LEFT JOIN sessions s ON s.id = l.session_id
            WHERE l.session_id = ?1 AND l.is_acquired ORDER BY l.key)sql",
                                                sqlite::k_now_ms, k_event_columns)
                                        .c_str());
        history.bind(1, session.id).step();
        bool recorded = database.changes() > 0;
        Statement release(database, R"sql(
            UPDATE locks SET is_acquired = 0, session_id = NULL, acquirer_name = NULL,
                             acquirer_address = NULL, acquired_at_ms = NULL
            WHERE session_id = ?1 AND is_acquired)sql");
        release.bind(1, session.id).step();
        if (recorded) {
            trim_history();
        }
        Statement end(database, "DELETE FROM sessions WHERE id = ?1");
        end.bind(1, session.id).step();
        tx.commit();
        return released;
    }

    core::Acquisition lock(const core::Session& session, const core::Lock& lock) override {
        Database& database = db();
        Database::Transaction tx(database);
        Statement alive(database, fmt::format("SELECT name, address FROM "
                                              "sessions WHERE id = ?1 AND "
                                              "expires_at_ms > {}",
                                              sqlite::k_now_ms)
                                      .c_str());
        if (!alive.bind(1, session.id).step()) {
            throw core::SessionGone(session.id);
        }
        // A holder whose session lapsed loses the key to this attempt (the statement below):
        // record its expiry first, in this transaction.
        Statement expiry(database, fmt::format(R"sql(
            INSERT INTO {1}
            SELECT {0}, l.key, 'expiry', l.session_id, l.acquirer_name, l.acquirer_address,
                   l.lock_index, NULL
            FROM locks l
            WHERE l.key = ?1 AND l.is_acquired AND l.session_id <> ?2 AND NOT EXISTS (
              SELECT 1 FROM sessions s WHERE s.id = l.session_id AND s.expires_at_ms > {0}))sql",
                                               sqlite::k_now_ms, k_event_columns)
                                       .c_str());
        expiry.bind(1, lock.key).bind(2, session.id).step();
        // One statement: take the key if it is free, its holder's session lapsed, or it is ours
        // (then nothing changes). A new grant increments lock_index.
        Statement acquire(database, fmt::format(R"sql(
            INSERT INTO locks (key, is_acquired, session_id, acquirer_name, acquirer_address,
                               acquired_at_ms, lock_index)
            VALUES (?1, 1, ?2, ?3, ?4, {0}, 1)
            ON CONFLICT (key) DO UPDATE SET
              is_acquired = 1, session_id = excluded.session_id,
              acquirer_name = excluded.acquirer_name,
              acquirer_address = excluded.acquirer_address,
              acquired_at_ms = excluded.acquired_at_ms, lock_index = locks.lock_index + 1
            WHERE NOT locks.is_acquired OR locks.session_id IS NULL
               OR (locks.session_id <> excluded.session_id AND NOT EXISTS (
                     SELECT 1 FROM sessions s
                     WHERE s.id = locks.session_id AND s.expires_at_ms > {0})))sql",
                                                sqlite::k_now_ms)
                                        .c_str());
        acquire.bind(1, lock.key)
            .bind(2, session.id)
            .bind(3, alive.text(0))
            .bind(4, alive.text(1))
            .step();
        bool granted = database.changes() > 0;
        core::Semaphore status = read_status(lock.key);
        if (granted) {
            record(core::EventKind::grant, status);
            trim_history();
        }
        tx.commit();
        return core::Acquisition{status.session_id == session.id, status};
    }

    core::Release unlock(const core::Session& session, const core::Lock& lock) override {
        return release(lock.key, &session.id);
    }

    core::Release force_unlock(const core::Lock& lock, const std::string& reason) override {
        return release(lock.key, nullptr, reason);
    }

    std::vector<core::Event> history(const std::optional<std::string>& key, int limit) override {
        std::string sql = "SELECT at_ms, key, event, session_id, acquirer_name, acquirer_address, "
                          "lock_index, reason FROM events";
        sql += key ? " WHERE key = ?2 ORDER BY key DESC, id DESC LIMIT ?1"
                   : " ORDER BY id DESC LIMIT ?1";
        Statement query(db(), sql.c_str());
        query.bind(1, static_cast<std::int64_t>(limit));
        if (key) {
            query.bind(2, *key);
        }
        std::vector<core::Event> out;
        while (query.step()) {
            core::Event e;
            e.time = core::from_unix_ms(query.integer(0));
            e.key = query.text(1);
            e.kind = core::parse_event_kind(query.text(2)).value_or(core::EventKind::release);
            e.session_id = query.text(3);
            e.acquirer_name = query.text(4);
            e.acquirer_address = query.text(5);
            e.lock_index = query.optional_integer(6);
            e.reason = query.optional_text(7);
            out.push_back(std::move(e));
        }
        std::reverse(out.begin(), out.end());
        return out;
    }

    core::Semaphore status(const core::Lock& lock) override { return read_status(lock.key); }

    std::vector<core::Semaphore> held() override {
        Statement query(db(), (k_status_select + fmt::format(" WHERE l.is_acquired AND "
                                                             "s.expires_at_ms > {} ORDER BY l.key",
                                                             sqlite::k_now_ms))
                                  .c_str());
        std::vector<core::Semaphore> out;
        while (query.step()) {
            out.push_back(read_semaphore(query));
        }
        return out;
    }

    core::Session renew(const core::Session& session) override {
        Statement update(db(), fmt::format(R"sql(
            UPDATE sessions SET expires_at_ms = {0} + ttl_ms
            WHERE id = ?1 AND expires_at_ms > {0} RETURNING expires_at_ms, ttl_ms)sql",
                                           sqlite::k_now_ms)
                                   .c_str());
        if (!update.bind(1, session.id).step()) {
            throw core::SessionGone(session.id);
        }
        core::Session renewed = session;
        renewed.expires_at = core::from_unix_ms(update.integer(0));
        renewed.ttl = core::Duration(update.integer(1));
        update.step();
        return renewed;
    }

    std::vector<core::Service> services() override {
        Statement query(db(), fmt::format(R"sql(
            SELECT service_id, name, version, address, tags, meta FROM sessions
            WHERE expires_at_ms > {} ORDER BY name, service_id)sql",
                                          sqlite::k_now_ms)
                                  .c_str());
        std::vector<core::Service> out;
        while (query.step()) {
            core::Service s;
            s.id = query.text(0);
            s.name = query.text(1);
            s.version = query.text(2);
            s.address = query.text(3);
            s.tags = parse_or(query.text(4), std::vector<std::string>{});
            s.meta = parse_or(query.text(5), std::map<std::string, std::string>{});
            out.push_back(std::move(s));
        }
        return out;
    }

    void wait_for_change(const core::Session& /*session*/, const core::Lock& /*lock*/,
                         const core::Semaphore& last, core::TimePoint deadline) override {
        // SQLite has no notifications, but every commit writes the database's files, which
        // inotify reports at once (ChangeWatch); never past the holder's expiry, so a lapsed
        // holder is noticed at once. Between events the waits grow from 1 ms to 100 ms: a wake-up
        // may come before the writer's commit is visible, and a file system without inotify
        // events (NFS) still gets polled. Without inotify at all: polling, up to 10 ms apart.
        core::TimePoint until = deadline;
        if (last.expires_at && *last.expires_at < until) {
            until = *last.expires_at;
        }
        if (!m_watch) {
            m_watch = std::make_unique<sqlite::ChangeWatch>(m_path);
            if (m_watch->valid()) {
                m_poll = core::Duration(1);
                return; // a commit between the last attempt and the watch: look once more
            }
        }
        if (m_watch->valid()) {
            bool changed = m_watch->wait(std::min(until, core::now() + m_poll));
            m_poll = changed ? core::Duration(1) : std::min(m_poll * 2, core::Duration(100));
            return;
        }
        m_poll = std::min(m_poll == core::Duration(0) ? core::Duration(1) : m_poll * 2,
                          core::Duration(10));
        core::Duration left = until - core::now();
        std::this_thread::sleep_for(std::clamp(left, core::Duration(1), m_poll));
    }

  private:
    template <typename T> static T parse_or(const std::string& text, T fallback) {
        nlohmann::ordered_json j = nlohmann::ordered_json::parse(text, nullptr, false);
        try {
            return j.is_discarded() ? fallback : j.get<T>();
        } catch (const nlohmann::ordered_json::exception&) {
            return fallback;
        }
    }

    Database& db() {
        if (!m_db) {
            m_db = std::make_unique<Database>(m_path, m_timeout);
            sqlite::migrate(*m_db);
        }
        return *m_db;
    }

    core::Semaphore read_status(const std::string& key) {
        Statement query(db(), (k_status_select + " WHERE l.key = ?1").c_str());
        if (!query.bind(1, key).step()) {
            return free_semaphore(key);
        }
        return read_semaphore(query);
    }

    // Releases `key` if `holder` holds it (any holder when null). Done in one transaction with
    // the read of who held it, so that the answer matches what was released.
    core::Release release(const std::string& key, const std::string* holder,
                          const std::string& reason = {}) {
        Database& database = db();
        Database::Transaction tx(database);
        core::Release out;
        out.previous = read_status(key);
        bool held = out.previous.is_acquired.value_or(false);
        if (held && (holder == nullptr || out.previous.session_id == *holder)) {
            Statement update(database, R"sql(
                UPDATE locks SET is_acquired = 0, session_id = NULL, acquirer_name = NULL,
                                 acquirer_address = NULL, acquired_at_ms = NULL
                WHERE key = ?1)sql");
            update.bind(1, key).step();
            out.released = true;
            if (holder != nullptr) {
                record(core::EventKind::release, out.previous);
            } else {
                record(core::EventKind::force, out.previous,
                       reason.empty() ? std::nullopt : std::optional<std::string>(reason));
            }
            trim_history();
        }
        tx.commit();
        return out;
    }

    // Frees the locks of lapsed sessions and forgets those sessions. Run when a session starts,
    // so that the tables stay small; correctness never depends on it.
    void release_lapsed_sessions() {
        db().execute(fmt::format(R"sql(
            INSERT INTO {1}
            SELECT {0}, key, 'expiry', session_id, acquirer_name, acquirer_address, lock_index,
                   NULL
            FROM locks
            WHERE is_acquired AND session_id IN (SELECT id FROM sessions WHERE expires_at_ms <= {0})
            ORDER BY key;
            UPDATE locks SET is_acquired = 0, session_id = NULL, acquirer_name = NULL,
                             acquirer_address = NULL, acquired_at_ms = NULL
            WHERE is_acquired AND session_id IN (SELECT id FROM sessions WHERE expires_at_ms <= {0});
            DELETE FROM sessions WHERE expires_at_ms <= {0};)sql",
                                 sqlite::k_now_ms, k_event_columns)
                         .c_str());
        trim_history();
    }

    // Inserts one event about `holder` (its key, session and grant) at the database's time.
    void record(core::EventKind kind, const core::Semaphore& holder,
                const std::optional<std::string>& reason = std::nullopt) {
        Statement insert(db(), fmt::format("INSERT INTO {} VALUES ({}, ?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                                           k_event_columns, sqlite::k_now_ms)
                                   .c_str());
        insert.bind(1, holder.key)
            .bind(2, std::string(core::to_string(kind)))
            .bind(3, holder.session_id)
            .bind(4, holder.acquirer_name)
            .bind(5, holder.acquirer_address);
        if (holder.lock_index) {
            insert.bind(6, *holder.lock_index);
        } else {
            insert.bind_null(6);
        }
        if (reason) {
            insert.bind(7, *reason);
        } else {
            insert.bind_null(7);
        }
        insert.step();
    }

    // Keeps the newest k_history_bound events: ids only grow, so this is one range delete on the
    // primary key, of one row at most in the steady state.
    void trim_history() {
        db().execute(fmt::format("DELETE FROM events WHERE id <= (SELECT max(id) FROM events) - {}",
                                 k_history_bound)
                         .c_str());
    }

    std::string m_path;
    core::Duration m_timeout;
    std::unique_ptr<Database> m_db;
    core::Duration m_poll{0};
    std::unique_ptr<sqlite::ChangeWatch> m_watch;
};

} // namespace

std::unique_ptr<core::Supervisor> make_sqlite_supervisor(const core::ConnectionSettings& settings) {
    return std::make_unique<SqliteSupervisor>(settings);
}

} // namespace bsup::drivers
