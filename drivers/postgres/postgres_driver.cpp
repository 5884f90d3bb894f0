#include "drivers/postgres/postgres_driver.hpp"

#include "core/errors.hpp"
#include "core/json.hpp"
#include "drivers/postgres/connection.hpp"
#include "drivers/postgres/schema.hpp"

#include <algorithm>
#include <thread>

namespace bsup::drivers {

namespace {

using postgres::Connection;
using postgres::Param;
using postgres::Result;

// Every change of a key is announced on this channel, with the key as payload.
constexpr const char* k_channel = "blacksmith_supervisor";

// A key's status: the lock joined with its holder's session and grant. A holder counts while its
// bsup session lives; a row with no bsup session behind it (a Blacksmith application's) counts as
// held until it is released or broken with --force. Columns: key, held, session_id,
// acquirer_name, acquirer_address, acquired_at (ms), lock_index, expires_at (ms).
#define BSUP_STATUS_SELECT                                                                         \
    "SELECT l.key, l.is_acquired AND (s.id IS NULL OR s.expires_at > now()) AS held,"              \
    " l.session_id,"                                                                               \
    " l.acquirer_name, l.acquirer_address,"                                                        \
    " (extract(epoch FROM l.acquired_at) * 1000)::bigint AS acquired_at_ms, g.lock_index,"         \
    " (extract(epoch FROM s.expires_at) * 1000)::bigint AS expires_at_ms"                          \
    " FROM blacksmith_supervisor.locks l"                                                          \
    " LEFT JOIN blacksmith_supervisor.bsup_sessions s ON s.id = l.session_id"                      \
    " LEFT JOIN blacksmith_supervisor.bsup_grants g ON g.key = l.key"                              \
    " AND g.session_id = l.session_id AND g.acquired_at = l.acquired_at"

// History (docs/DESIGN.md "History"): events are inserted by a CTE of the statement that makes
// the change, and the newest BSUP_HISTORY_BOUND kept by a range delete on the growing id.
#define BSUP_HISTORY_BOUND "10000"
#define BSUP_EVENTS_INSERT                                                                         \
    "INSERT INTO blacksmith_supervisor.bsup_events"                                                \
    " (key, event, session_id, acquirer_name, acquirer_address, lock_index, reason)"
#define BSUP_HISTORY_TRIM(cte)                                                                     \
    "trimmed AS (DELETE FROM blacksmith_supervisor.bsup_events"                                    \
    " WHERE id <= (SELECT max(id) FROM " cte ") - " BSUP_HISTORY_BOUND ")"
// The grant behind a lock row `o` (its lock_index), for the events about its holder.
#define BSUP_GRANT_OF(o)                                                                           \
    " LEFT JOIN blacksmith_supervisor.bsup_grants g ON g.key = " o ".key"                          \
    " AND g.session_id = " o ".session_id AND g.acquired_at = " o ".acquired_at"

#define BSUP_RELEASE_SET                                                                           \
    "SET is_acquired = false, session_id = NULL, acquirer_name = NULL,"                            \
    " acquirer_address = NULL, acquired_at = NULL"

// Acquires $1 for the session $2 in one statement on the server's clock: take the key if it is
// free, its holder's bsup session lapsed, or it is ours already (then nothing changes but the row
// version). A new grant (another holder, or a new acquired_at) draws a new lock_index from the
// sequence. The same statement records the grant and, when it took the key from a lapsed holder,
// that holder's expiry (`prev`: the row as it was before the statement).
constexpr const char* k_acquire = R"sql(
WITH s AS (
  SELECT id, name, address, expires_at FROM blacksmith_supervisor.bsup_sessions
  WHERE id = $2::text AND expires_at > now()),
prev AS (
  SELECT o.key, o.is_acquired, o.session_id, o.acquirer_name, o.acquirer_address, g.lock_index
  FROM blacksmith_supervisor.locks o )sql" BSUP_GRANT_OF("o") R"sql(
  WHERE o.key = $1::text),
acquired AS (
  INSERT INTO blacksmith_supervisor.locks AS l
    (key, is_acquired, session_id, acquirer_name, acquirer_address, acquired_at)
  SELECT $1::text, true, s.id, s.name, s.address, now() AT TIME ZONE 'UTC' FROM s
  ON CONFLICT (key) DO UPDATE SET
    is_acquired = true, session_id = excluded.session_id,
    acquirer_name = excluded.acquirer_name, acquirer_address = excluded.acquirer_address,
    acquired_at = CASE WHEN l.is_acquired AND l.session_id = excluded.session_id
                       THEN l.acquired_at ELSE excluded.acquired_at END
  WHERE NOT l.is_acquired OR l.session_id IS NULL OR l.session_id = excluded.session_id
     OR EXISTS (SELECT 1 FROM blacksmith_supervisor.bsup_sessions x
                WHERE x.id = l.session_id AND x.expires_at <= now())
  RETURNING l.key, l.session_id, l.acquirer_name, l.acquirer_address, l.acquired_at),
granted AS (
  INSERT INTO blacksmith_supervisor.bsup_grants AS g (key, session_id, acquired_at, lock_index)
  SELECT key, session_id, acquired_at, nextval('blacksmith_supervisor.bsup_lock_index')
  FROM acquired
  ON CONFLICT (key) DO UPDATE SET session_id = excluded.session_id,
    acquired_at = excluded.acquired_at, lock_index = excluded.lock_index
  WHERE (g.session_id, g.acquired_at) IS DISTINCT FROM (excluded.session_id, excluded.acquired_at)
  RETURNING lock_index),
dequeued AS (
  DELETE FROM blacksmith_supervisor.bsup_waiters
  WHERE key = $1::text AND session_id = $2::text AND EXISTS (SELECT 1 FROM acquired)),
recorded AS ()sql" BSUP_EVENTS_INSERT R"sql(
  SELECT p.key, 'expiry', p.session_id, p.acquirer_name, p.acquirer_address, p.lock_index, NULL
  FROM prev p WHERE p.is_acquired AND p.session_id <> $2::text AND EXISTS (SELECT 1 FROM acquired)
  UNION ALL
  SELECT a.key, 'grant', a.session_id, a.acquirer_name, a.acquirer_address, gr.lock_index, NULL
  FROM acquired a CROSS JOIN granted gr
  RETURNING id),
)sql" BSUP_HISTORY_TRIM("recorded") R"sql(
SELECT a.key, a.key IS NOT NULL, a.session_id, a.acquirer_name, a.acquirer_address,
       (extract(epoch FROM a.acquired_at) * 1000)::bigint,
       COALESCE((SELECT lock_index FROM granted),
                (SELECT lock_index FROM blacksmith_supervisor.bsup_grants WHERE key = $1::text)),
       (extract(epoch FROM s.expires_at) * 1000)::bigint
FROM s LEFT JOIN acquired a ON true)sql";

// The advisory lock a waiter holds on its connection while it waits for a key: bsup's class
// ('bsup' in ASCII) and its ticket, an int4 pair (a space apart from bigint advisory locks such
// as migrate's).
#define BSUP_WAITER_LOCK(ticket) "1651733872, (" ticket " % 2147483647)::int"

// Hands each key of the CTE `gone` (key, session_id: the holder that lets it go) to the first
// session in its queue that still waits: its session lives, it is not the one letting go, and its
// connection holds its advisory lock (a waiter killed or gone has lost it). A waiter that no
// longer waits leaves the queue; the heir too. Keys with no heir become free. CTEs: moved (every
// key let go, with its new holder or NULLs) and handed (the new grants, with their lock_index).
// clang-format off
#define BSUP_HAND_OVER(gone)                                                                       \
    "queue AS ("                                                                                   \
    "  SELECT w.ticket, w.key, s.id, s.name, s.address,"                                           \
    "         COALESCE(s.expires_at > now() AND w.session_id IS DISTINCT FROM p.session_id"        \
    "                  AND NOT pg_try_advisory_xact_lock(" BSUP_WAITER_LOCK("w.ticket") "),"       \
    "                  false) AS waits"                                                            \
    "  FROM " gone " p JOIN blacksmith_supervisor.bsup_waiters w ON w.key = p.key"                 \
    "  LEFT JOIN blacksmith_supervisor.bsup_sessions s ON s.id = w.session_id),"                   \
    "heirs AS (SELECT DISTINCT ON (key) * FROM queue WHERE waits ORDER BY key, ticket),"           \
    "moved AS ("                                                                                   \
    "  UPDATE blacksmith_supervisor.locks u SET"                                                   \
    "    is_acquired = h.id IS NOT NULL, session_id = h.id,"                                       \
    "    acquirer_name = h.name, acquirer_address = h.address,"                                    \
    "    acquired_at = CASE WHEN h.id IS NULL THEN NULL ELSE now() AT TIME ZONE 'UTC' END"         \
    "  FROM " gone " p LEFT JOIN heirs h ON h.key = p.key"                                         \
    "  WHERE u.key = p.key AND u.is_acquired AND u.session_id = p.session_id"                      \
    "  RETURNING u.key, u.session_id, u.acquirer_name, u.acquirer_address, u.acquired_at),"        \
    "handed AS ("                                                                                  \
    "  INSERT INTO blacksmith_supervisor.bsup_grants AS g"                                         \
    "    (key, session_id, acquired_at, lock_index)"                                               \
    "  SELECT key, session_id, acquired_at, nextval('blacksmith_supervisor.bsup_lock_index')"      \
    "  FROM moved WHERE session_id IS NOT NULL"                                                    \
    "  ON CONFLICT (key) DO UPDATE SET session_id = excluded.session_id,"                          \
    "    acquired_at = excluded.acquired_at, lock_index = excluded.lock_index"                     \
    "  RETURNING key, lock_index),"                                                                \
    "dequeued AS ("                                                                                \
    "  DELETE FROM blacksmith_supervisor.bsup_waiters w USING queue q"                             \
    "  WHERE w.ticket = q.ticket AND (NOT q.waits OR q.ticket IN ("                                \
    "    SELECT h.ticket FROM heirs h JOIN moved m ON m.key = h.key AND m.session_id = h.id))),"
// The grant events of the keys handed over by BSUP_HAND_OVER.
#define BSUP_HANDED_EVENTS                                                                         \
    " SELECT m.key, 'grant', m.session_id, m.acquirer_name, m.acquirer_address, h.lock_index,"     \
    "        NULL"                                                                                 \
    " FROM moved m JOIN handed h ON h.key = m.key"

// Releases $1 if the session $2 holds it (whoever holds it when NULL), in one statement with the
// read of who held it: hands it to the first waiter in its queue, else frees it, and announces
// and records the change (a forced break with reason $3). One commit: the next holder waits for
// one flush of the write-ahead log, not two.
constexpr const char* k_release =
    "WITH prev AS (" BSUP_STATUS_SELECT " WHERE l.key = $1::text FOR UPDATE OF l),"
    "gone AS ("
    "  SELECT * FROM prev p WHERE p.held AND ($2::text IS NULL OR p.session_id = $2::text)),"
    BSUP_HAND_OVER("gone")
    "recorded AS (" BSUP_EVENTS_INSERT
    "  SELECT p.key, CASE WHEN $2::text IS NULL THEN 'force' ELSE 'release' END,"
    "         p.session_id, p.acquirer_name, p.acquirer_address, p.lock_index, $3::text"
    "  FROM gone p"
    "  UNION ALL" BSUP_HANDED_EVENTS
    "  RETURNING id),"
    BSUP_HISTORY_TRIM("recorded")
    " SELECT p.*, (SELECT count(*) FROM ("
    "   SELECT pg_notify('blacksmith_supervisor', key) FROM moved) n) > 0"
    " FROM prev p";
// clang-format on

// Ends the session $1: hands its keys over or frees them (announced), and records it. The third
// column says whether the session was alive (its keys released, not lapsed).
constexpr const char* k_shutdown = R"sql(
WITH ended AS (
  DELETE FROM blacksmith_supervisor.bsup_sessions WHERE id = $1::text
  RETURNING expires_at > now() AS alive),
gone AS (
  SELECT o.key, o.session_id, o.acquirer_name, o.acquirer_address, g.lock_index
  FROM blacksmith_supervisor.locks o )sql" BSUP_GRANT_OF("o") R"sql(
  WHERE o.is_acquired AND o.session_id = $1::text FOR UPDATE OF o),
)sql" BSUP_HAND_OVER("gone") R"sql(
recorded AS ()sql" BSUP_EVENTS_INSERT R"sql(
  SELECT * FROM (
    SELECT p.key,
           CASE WHEN EXISTS (SELECT 1 FROM ended WHERE alive) THEN 'release' ELSE 'expiry' END,
           p.session_id, p.acquirer_name, p.acquirer_address, p.lock_index, NULL
    FROM gone p ORDER BY p.key) r
  UNION ALL )sql" BSUP_HANDED_EVENTS R"sql(
  RETURNING id),
)sql" BSUP_HISTORY_TRIM("recorded") R"sql(
SELECT m.key, pg_notify('blacksmith_supervisor', m.key), EXISTS (SELECT 1 FROM ended WHERE alive)
FROM moved m ORDER BY m.key)sql";

// Queues the session $2 for the key $1 and takes the waiter's advisory lock on this connection.
constexpr const char* k_enqueue =
    "INSERT INTO blacksmith_supervisor.bsup_waiters (key, session_id) VALUES ($1::text, $2::text)"
    " RETURNING ticket, pg_advisory_lock(" BSUP_WAITER_LOCK("ticket") ")";

// Takes the ticket $2 out of the queue of the key $1 and lets go of its advisory lock, after
// any release that is handing the key over at this moment has committed (the row lock).
constexpr const char* k_leave_queue =
    "WITH left_queue AS (DELETE FROM blacksmith_supervisor.bsup_waiters WHERE ticket = $2::bigint)"
    " SELECT pg_advisory_unlock(" BSUP_WAITER_LOCK(
        "$2::bigint") ") FROM ("
                      "   SELECT 1 FROM blacksmith_supervisor.locks WHERE key = $1::text FOR "
                      "UPDATE) l";

constexpr const char* k_status = BSUP_STATUS_SELECT " WHERE l.key = $1::text";

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
        // Starts the session and, in the same statement, forgets lapsed sessions, frees their
        // locks and drops their places in queues, so that the tables stay small (correctness
        // never depends on it), recording the expiry of those locks (`o` reads the rows as they
        // were before the statement).
        constexpr const char* sql = R"sql(
WITH lapsed AS (
  DELETE FROM blacksmith_supervisor.bsup_sessions WHERE id IN (
    SELECT id FROM blacksmith_supervisor.bsup_sessions WHERE expires_at <= now()
    FOR UPDATE SKIP LOCKED)
  RETURNING id),
freed AS (
  UPDATE blacksmith_supervisor.locks )sql" BSUP_RELEASE_SET R"sql(
  WHERE is_acquired AND session_id IN (SELECT id FROM lapsed) RETURNING key),
unqueued AS (
  DELETE FROM blacksmith_supervisor.bsup_waiters WHERE session_id IN (SELECT id FROM lapsed)),
expired AS ()sql" BSUP_EVENTS_INSERT R"sql(
  SELECT o.key, 'expiry', o.session_id, o.acquirer_name, o.acquirer_address, g.lock_index, NULL
  FROM blacksmith_supervisor.locks o )sql" BSUP_GRANT_OF("o") R"sql(
  WHERE o.key IN (SELECT key FROM freed) ORDER BY o.key RETURNING id),
)sql" BSUP_HISTORY_TRIM("expired") R"sql(
INSERT INTO blacksmith_supervisor.bsup_sessions
  (id, service_id, name, version, address, tags, meta, ttl_ms, created_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8::bigint, now(),
        now() + $8::bigint * interval '1 millisecond')
RETURNING (extract(epoch FROM created_at) * 1000)::bigint,
          (extract(epoch FROM expires_at) * 1000)::bigint)sql";
        const core::Service& service = request.service;
        Result r = run(sql, {session_id, service.id, service.name, service.version, service.address,
                             nlohmann::ordered_json(service.tags).dump(),
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
        Result r = run(k_shutdown, {session.id});
        std::vector<std::string> released;
        for (int i = 0; i < r.rows(); ++i) {
            if (r.boolean(i, 2)) {
                released.push_back(r.text(i, 0));
            }
        }
        return released;
    }

    core::Acquisition lock(const core::Session& session, const core::Lock& lock) override {
        if (queued(session, lock)) {
            // A release may have handed the key to this waiter: then it holds it already, and
            // reading says so without a write.
            core::Semaphore now_status = status(lock);
            if (now_status.is_acquired.value_or(false) && now_status.session_id == session.id) {
                m_queued.reset();
                return core::Acquisition{true, now_status};
            }
        }
        Result r = run(k_acquire, {lock.key, session.id});
        if (r.rows() == 0) {
            throw core::SessionGone(session.id);
        }
        if (!r.boolean(0, 1)) {
            return core::Acquisition{false, status(lock)};
        }
        if (queued(session, lock)) {
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
        Result r = run(BSUP_STATUS_SELECT " WHERE l.is_acquired AND"
                                          " (s.id IS NULL OR s.expires_at > now())"
                                          " ORDER BY l.key");
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
            conn.prepare(k_acquire, 2);
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
        conn.prepare(k_release, 3);
        conn.prepare(k_shutdown, 1);
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
        Result r = run(k_release, {key, holder, reason});
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
    bool m_migrated = false;
    core::Duration m_poll{0};
};

} // namespace

std::unique_ptr<core::Supervisor>
make_postgres_supervisor(const core::ConnectionSettings& settings) {
    return std::make_unique<PostgresSupervisor>(settings);
}

} // namespace bsup::drivers
