#include "drivers/postgres/postgres_driver.hpp"

#include "core/errors.hpp"
#include "core/json.hpp"
#include "drivers/postgres/connection.hpp"
#include "drivers/postgres/schema.hpp"
#include "drivers/postgres/statements.hpp"

#include <algorithm>
#include <thread>

namespace bsup::drivers {

namespace {

using postgres::Connection;
using postgres::Param;
using postgres::Result;
using namespace postgres::statements;

core::Semaphore free_semaphore(const std::string& key) {
    core::Semaphore s;
    s.key = key;
    s.is_acquired = false;
    return s;
}

core::Semaphore read_semaphore(const Result& r, int row, int first = 0) {
    core::Semaphore s = free_semaphore(r.text(row, first));
    s.is_acquired = r.boolean(row, first + 1);
    if (*s.is_acquired) {
        s.session_id = r.text(row, first + 2);
        s.acquirer_name = r.text(row, first + 3);
        s.acquirer_address = r.text(row, first + 4);
        if (auto at = r.optional_integer(row, first + 5)) {
            s.acquired_at = core::from_unix_ms(*at);
        }
        s.lock_index = r.optional_integer(row, first + 6);
        if (auto until = r.optional_integer(row, first + 7)) {
            s.expires_at = core::from_unix_ms(*until);
        }
    }
    return s;
}

template <typename T> T parse_or(const std::string& text, T fallback) {
    nlohmann::ordered_json j = nlohmann::ordered_json::parse(text, nullptr, false);
    try {
        return j.is_discarded() ? fallback : j.get<T>();
    } catch (const nlohmann::ordered_json::exception&) {
        return fallback;
    }
}

class PostgresSupervisor final : public core::Supervisor {
  public:
    explicit PostgresSupervisor(const core::ConnectionSettings& settings)
        : m_connection(settings.connection), m_timeout(settings.timeout) {}

    core::Session init(const std::string& session_id,
                       const core::SessionRequest& request) override {
        const core::Service& service = request.service;
        Result r = run(k_init, {session_id, service.id, service.name, service.version,
                                service.address, nlohmann::ordered_json(service.tags).dump(),
                                nlohmann::ordered_json(service.meta).dump(),
                                std::to_string(request.ttl.count())});
        core::Session session;
        session.id = session_id;
        session.handle = session_id;
        session.service = service;
        session.ttl = request.ttl;
        session.created_at = core::from_unix_ms(r.integer(0, 0));
        session.expires_at = core::from_unix_ms(r.integer(0, 1));
        return session;
    }

    std::vector<std::string> shutdown(const core::Session& session) override {
        // Handing keys over takes a larger statement to plan: only when someone waits for one.
        bool waited = m_hand_over_prepared || run(k_session_waited, {session.id}).boolean(0, 0);
        Result r = run(waited ? k_shutdown_hand_over : k_shutdown, {session.id});
        std::vector<std::string> released;
        for (int i = 0; i < r.rows(); ++i) {
            if (r.boolean(i, 2)) {
                released.push_back(r.text(i, 0));
            }
        }
        return released;
    }

    core::Acquisition lock(const core::Session& session, const core::Lock& lock) override {
        bool in_queue = queued(session, lock);
        if (in_queue) {
            // A release may have handed the key to this waiter: then it holds it already, and
            // reading says so without a write. Handed to another waiter, or held still: this one
            // stays in the queue, and writes nothing either.
            core::Semaphore now_status = status(lock);
            if (now_status.is_acquired.value_or(false)) {
                bool mine = now_status.session_id == session.id;
                if (mine) {
                    m_queued.reset();
                }
                return core::Acquisition{mine, now_status};
            }
        }
        Result r = run(in_queue ? k_acquire_queued : k_acquire, {lock.key, session.id});
        if (r.rows() == 0) {
            throw core::SessionGone(session.id);
        }
        if (!r.boolean(0, 1)) {
            return core::Acquisition{false, status(lock)};
        }
        if (in_queue) {
            m_queued.reset(); // the statement took this waiter out of the queue
        }
        return core::Acquisition{true, read_semaphore(r, 0)};
    }

    core::Release unlock(const core::Session& session, const core::Lock& lock) override {
        return release(lock.key, session.id);
    }

    core::Release force_unlock(const core::Lock& lock, const std::string& reason) override {
        return release(lock.key, std::nullopt, reason.empty() ? std::nullopt : Param(reason));
    }

    std::vector<core::Event> history(const std::optional<std::string>& key, int limit) override {
#define BSUP_HISTORY_SELECT                                                                        \
    "SELECT * FROM (SELECT id, (extract(epoch FROM at) * 1000)::bigint, key, event, session_id,"   \
    " acquirer_name, acquirer_address, lock_index, reason"                                         \
    " FROM blacksmith_supervisor.bsup_events"
        std::string count = std::to_string(limit);
        Result r = key ? run(BSUP_HISTORY_SELECT " WHERE key = $2::text ORDER BY id DESC"
                                                 " LIMIT $1::int) e ORDER BY id",
                             {count, *key})
                       : run(BSUP_HISTORY_SELECT " ORDER BY id DESC LIMIT $1::int) e ORDER BY id",
                             {count});
#undef BSUP_HISTORY_SELECT
        std::vector<core::Event> out;
        for (int i = 0; i < r.rows(); ++i) {
            core::Event e;
            e.time = core::from_unix_ms(r.integer(i, 1));
            e.key = r.text(i, 2);
            e.kind = core::parse_event_kind(r.text(i, 3)).value_or(core::EventKind::release);
            e.session_id = r.text(i, 4);
            e.acquirer_name = r.text(i, 5);
            e.acquirer_address = r.text(i, 6);
            e.lock_index = r.optional_integer(i, 7);
            if (!r.is_null(i, 8)) {
                e.reason = r.text(i, 8);
            }
            out.push_back(std::move(e));
        }
        return out;
    }

    core::Semaphore status(const core::Lock& lock) override {
        Result r = run(k_status, {lock.key});
        return r.rows() == 0 ? free_semaphore(lock.key) : read_semaphore(r, 0);
    }

    std::vector<core::Semaphore> held() override {
        Result r = run(k_held);
        std::vector<core::Semaphore> out;
        for (int i = 0; i < r.rows(); ++i) {
            out.push_back(read_semaphore(r, i));
        }
        return out;
    }

    core::Session renew(const core::Session& session) override {
        Result r = run(R"sql(
UPDATE blacksmith_supervisor.bsup_sessions
SET expires_at = now() + ttl_ms * interval '1 millisecond'
WHERE id = $1::text AND expires_at > now()
RETURNING (extract(epoch FROM expires_at) * 1000)::bigint, ttl_ms)sql",
                       {session.id});
        if (r.rows() == 0) {
            throw core::SessionGone(session.id);
        }
        core::Session renewed = session;
        renewed.expires_at = core::from_unix_ms(r.integer(0, 0));
        renewed.ttl = core::Duration(r.integer(0, 1));
        return renewed;
    }

    std::vector<core::Service> services() override {
        Result r = run(R"sql(
SELECT service_id, name, version, address, tags::text, meta::text
FROM blacksmith_supervisor.bsup_sessions WHERE expires_at > now()
ORDER BY name, service_id)sql");
        std::vector<core::Service> out;
        for (int i = 0; i < r.rows(); ++i) {
            core::Service s;
            s.id = r.text(i, 0);
            s.name = r.text(i, 1);
            s.version = r.text(i, 2);
            s.address = r.text(i, 3);
            s.tags = parse_or(r.text(i, 4), std::vector<std::string>{});
            s.meta = parse_or(r.text(i, 5), std::map<std::string, std::string>{});
            out.push_back(std::move(s));
        }
        return out;
    }

    void wait_for_change(const core::Session& session, const core::Lock& lock,
                         const core::Semaphore& last, core::TimePoint deadline) override {
        // Never past the holder's expiry: a lapsed holder frees the key without a notification.
        core::TimePoint until = deadline;
        if (last.expires_at && *last.expires_at < until) {
            until = *last.expires_at;
        }
        Connection& conn = connection();
        if (behind_pooler()) {
            // A pooler in transaction mode gives LISTEN to a server connection that other
            // clients use next: notifications would be lost. Poll, short at first.
            poll_until(until);
            return;
        }
        if (!m_listening) {
            // Keepalives: the server notices a waiter's machine that died within ~20 s and ends
            // its connection, which lets go of its place in the queue (k_enqueue).
            conn.script(std::string("LISTEN ") + k_channel +
                        "; SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 2;"
                        " SET tcp_keepalives_count = 4");
            m_listening = true;
            // The attempt after a notification is the hand-off: have it parsed and planned now.
            conn.keep_prepared();
            conn.prepare(k_acquire_queued, 2);
            conn.prepare(k_status, 1);
        }
        if (!queued(session, lock)) {
            Result r = run(k_enqueue, {lock.key, session.id});
            m_queued = Queued{lock.key, session.id, r.text(0, 0)};
            // The holder may have released between the failed attempt and the queueing.
            core::Semaphore now_status = status(lock);
            if (now_status.is_acquired != last.is_acquired ||
                now_status.session_id != last.session_id) {
                return;
            }
        }
        if (!last.expires_at) {
            // A Blacksmith application's lock: it sends no notification when it releases.
            until = std::min(until, core::now() + std::chrono::seconds(1));
        }
        if (until <= core::now()) {
            poll_until(until); // the holder's expiry passed by our clock, not yet by the server's
            return;
        }
        for (;;) {
            for (const std::string& key : conn.notifications(until)) {
                if (key == lock.key) {
                    return;
                }
            }
            if (core::now() >= until) {
                return;
            }
        }
    }

    std::optional<core::Semaphore> stop_waiting(const core::Session& session,
                                                const core::Lock& lock) override {
        if (!queued(session, lock)) {
            return std::nullopt;
        }
        run(k_leave_queue, {lock.key, m_queued->ticket});
        m_queued.reset();
        core::Semaphore now_status = status(lock);
        if (now_status.is_acquired.value_or(false) && now_status.session_id == session.id) {
            return now_status;
        }
        return std::nullopt;
    }

    void expect_release(const core::Lock& /*lock*/) override {
        // The release (and the end of a session of its own, right after it) parsed and planned
        // while the lock is held, so that the next holder waits for one execution only.
        if (behind_pooler()) {
            return; // PgBouncer in transaction mode: no named statements
        }
        Connection& conn = connection();
        conn.keep_prepared();
        conn.prepare(k_hand_over, 3);
        conn.prepare(k_shutdown_hand_over, 1);
        m_hand_over_prepared = true;
    }

  private:
    Connection& connection() {
        if (!m_db) {
            m_db = postgres::connect(m_connection, m_timeout);
        }
        return *m_db;
    }

    // Runs a statement; when bsup's schema is missing or older than it needs, brings the schema
    // up to date and runs it again. Statements are single and outside any transaction, so a
    // failed one left nothing behind.
    Result run(const char* sql, const std::vector<Param>& params = {}) {
        Connection& conn = connection();
        if (!m_migrated) {
            try {
                return conn.query(sql, params);
            } catch (const postgres::ServerError& e) {
                if (!postgres::schema_missing(e)) {
                    throw;
                }
            }
            postgres::migrate(conn);
            m_migrated = true;
        }
        return conn.query(sql, params);
    }

    // Whether a pooler stands between bsup and the server: the process ID announced when the
    // connection started is then the pooler's, not the server's.
    bool behind_pooler() {
        if (!m_behind_pooler) {
            Result r = run("SELECT pg_backend_pid()");
            m_behind_pooler = r.integer(0, 0) != connection().announced_pid();
        }
        return *m_behind_pooler;
    }

    void poll_until(core::TimePoint until) {
        m_poll = std::min(m_poll == core::Duration(0) ? core::Duration(10) : m_poll * 2,
                          core::Duration(200));
        core::Duration left = until - core::now();
        std::this_thread::sleep_for(std::clamp(left, core::Duration(2), m_poll));
    }

    // Releases `key` if `holder` holds it (whoever holds it when empty), in one statement with
    // the read of who held it, and announces and records the change (a forced break with
    // `reason`).
    core::Release release(const std::string& key, const std::optional<std::string>& holder,
                          const Param& reason = std::nullopt) {
        // Handing the key over takes a larger statement to plan (about 1 ms of a one-off unlock):
        // only when someone waits for it. A waiter that queues after the check finds the key
        // free, or is woken by the release's notification, and takes the key itself.
        bool waited = m_hand_over_prepared || run(k_key_waited, {key}).boolean(0, 0);
        Result r = run(waited ? k_hand_over : k_release, {key, holder, reason});
        core::Release out;
        if (r.rows() == 0) {
            out.previous = free_semaphore(key);
            return out;
        }
        out.previous = read_semaphore(r, 0);
        out.released = r.boolean(0, 8);
        return out;
    }

    // Whether `session` waits in the queue of `lock` (k_enqueue).
    bool queued(const core::Session& session, const core::Lock& lock) const {
        return m_queued && m_queued->key == lock.key && m_queued->session_id == session.id;
    }

    struct Queued {
        std::string key;
        std::string session_id;
        std::string ticket;
    };

    std::string m_connection;
    core::Duration m_timeout;
    std::optional<Queued> m_queued;
    std::unique_ptr<Connection> m_db;
    std::optional<bool> m_behind_pooler;
    bool m_listening = false;
    bool m_hand_over_prepared = false; // expect_release() prepared the statements that hand over
    bool m_migrated = false;
    core::Duration m_poll{0};
};

} // namespace

std::unique_ptr<core::Supervisor>
make_postgres_supervisor(const core::ConnectionSettings& settings) {
    return std::make_unique<PostgresSupervisor>(settings);
}

} // namespace bsup::drivers
