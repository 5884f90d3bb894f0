#pragma once

// Every SQL statement of the postgres driver (docs/drivers/postgres.md), each one autocommit
// statement with parameters, on the server's clock.

namespace bsup::drivers::postgres::statements {

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
// clang-format off
#define BSUP_ACQUIRE(extra_ctes)                                                                   \
    " WITH s AS ("                                                                                 \
    " SELECT id, name, address, expires_at FROM blacksmith_supervisor.bsup_sessions"               \
    " WHERE id = $2::text AND expires_at > now()),"                                                \
    " prev AS ("                                                                                   \
    " SELECT o.key, o.is_acquired, o.session_id, o.acquirer_name, o.acquirer_address,"             \
    " g.lock_index"                                                                                \
    " FROM blacksmith_supervisor.locks o"                                                          \
    BSUP_GRANT_OF("o")                                                                             \
    " WHERE o.key = $1::text),"                                                                    \
    " acquired AS ("                                                                               \
    " INSERT INTO blacksmith_supervisor.locks AS l"                                                \
    " (key, is_acquired, session_id, acquirer_name, acquirer_address, acquired_at)"                \
    " SELECT $1::text, true, s.id, s.name, s.address, now() AT TIME ZONE 'UTC' FROM s"             \
    " ON CONFLICT (key) DO UPDATE SET"                                                             \
    " is_acquired = true, session_id = excluded.session_id,"                                       \
    " acquirer_name = excluded.acquirer_name, acquirer_address = excluded.acquirer_address,"       \
    " acquired_at = CASE WHEN l.is_acquired AND l.session_id = excluded.session_id"                \
    " THEN l.acquired_at ELSE excluded.acquired_at END"                                            \
    " WHERE NOT l.is_acquired OR l.session_id IS NULL OR l.session_id = excluded.session_id"       \
    " OR EXISTS (SELECT 1 FROM blacksmith_supervisor.bsup_sessions x"                              \
    " WHERE x.id = l.session_id AND x.expires_at <= now())"                                        \
    " RETURNING l.key, l.session_id, l.acquirer_name, l.acquirer_address, l.acquired_at),"         \
    " granted AS ("                                                                                \
    " INSERT INTO blacksmith_supervisor.bsup_grants AS g"                                          \
    " (key, session_id, acquired_at, lock_index)"                                                  \
    " SELECT key, session_id, acquired_at, nextval('blacksmith_supervisor.bsup_lock_index')"       \
    " FROM acquired"                                                                               \
    " ON CONFLICT (key) DO UPDATE SET session_id = excluded.session_id,"                           \
    " acquired_at = excluded.acquired_at, lock_index = excluded.lock_index"                        \
    " WHERE (g.session_id, g.acquired_at)"                                                         \
    " IS DISTINCT FROM (excluded.session_id, excluded.acquired_at)"                                \
    " RETURNING lock_index),"                                                                      \
    extra_ctes                                                                                     \
    " recorded AS ("                                                                               \
    BSUP_EVENTS_INSERT                                                                             \
    " SELECT p.key, 'expiry', p.session_id, p.acquirer_name, p.acquirer_address, p.lock_index,"    \
    " NULL"                                                                                        \
    " FROM prev p WHERE p.is_acquired AND p.session_id <> $2::text"                                \
    " AND EXISTS (SELECT 1 FROM acquired)"                                                         \
    " UNION ALL"                                                                                   \
    " SELECT a.key, 'grant', a.session_id, a.acquirer_name, a.acquirer_address, gr.lock_index,"    \
    " NULL"                                                                                        \
    " FROM acquired a CROSS JOIN granted gr"                                                       \
    " RETURNING id),"                                                                              \
    BSUP_HISTORY_TRIM("recorded")                                                                  \
    " SELECT a.key, a.key IS NOT NULL, a.session_id, a.acquirer_name, a.acquirer_address,"         \
    " (extract(epoch FROM a.acquired_at) * 1000)::bigint,"                                         \
    " COALESCE((SELECT lock_index FROM granted),"                                                  \
    " (SELECT lock_index FROM blacksmith_supervisor.bsup_grants WHERE key = $1::text)),"           \
    " (extract(epoch FROM s.expires_at) * 1000)::bigint"                                           \
    " FROM s LEFT JOIN acquired a ON true"
// clang-format on
constexpr const char* k_acquire = BSUP_ACQUIRE("");
// The same for a session queued for the key: the acquisition also takes it out of the queue.
constexpr const char* k_acquire_queued = BSUP_ACQUIRE(
    "dequeued AS (DELETE FROM blacksmith_supervisor.bsup_waiters"
    " WHERE key = $1::text AND session_id = $2::text AND EXISTS (SELECT 1 FROM acquired)),");

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
constexpr const char* k_hand_over =
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

// The same as k_hand_over for a key nobody waits for: frees it. Planned in about half the time,
// which is most of a one-off unlock's time on the server.
constexpr const char* k_release =
    "WITH prev AS (" BSUP_STATUS_SELECT " WHERE l.key = $1::text FOR UPDATE OF l),"
    " released AS (UPDATE blacksmith_supervisor.locks u " BSUP_RELEASE_SET
    " FROM prev p WHERE u.key = p.key AND p.held"
    " AND ($2::text IS NULL OR p.session_id = $2::text) RETURNING u.key),"
    " recorded AS (" BSUP_EVENTS_INSERT
    " SELECT p.key, CASE WHEN $2::text IS NULL THEN 'force' ELSE 'release' END,"
    " p.session_id, p.acquirer_name, p.acquirer_address, p.lock_index, $3::text"
    " FROM prev p WHERE EXISTS (SELECT 1 FROM released) RETURNING id), " BSUP_HISTORY_TRIM(
        "recorded") " SELECT p.*, (SELECT count(*) FROM (SELECT "
                    "pg_notify('blacksmith_supervisor', key)"
                    " FROM released) n) > 0 FROM prev p";

// Whether a session waits in the queue of the key $1 (then k_hand_over, else k_release).
constexpr const char* k_key_waited =
    "SELECT EXISTS (SELECT 1 FROM blacksmith_supervisor.bsup_waiters WHERE key = $1::text)";

// Ends the session $1: hands its keys over or frees them (announced), and records it. The third
// column says whether the session was alive (its keys released, not lapsed).
constexpr const char* k_shutdown_hand_over = R"sql(
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

// The same as k_shutdown_hand_over for a session none of whose keys is waited for.
constexpr const char* k_shutdown = R"sql(
WITH ended AS (
  DELETE FROM blacksmith_supervisor.bsup_sessions WHERE id = $1::text
  RETURNING expires_at > now() AS alive),
released AS (
  UPDATE blacksmith_supervisor.locks )sql" BSUP_RELEASE_SET R"sql(
  WHERE is_acquired AND session_id = $1::text RETURNING key),
recorded AS ()sql" BSUP_EVENTS_INSERT R"sql(
  SELECT o.key, CASE WHEN EXISTS (SELECT 1 FROM ended WHERE alive) THEN 'release' ELSE 'expiry' END,
         o.session_id, o.acquirer_name, o.acquirer_address, g.lock_index, NULL
  FROM blacksmith_supervisor.locks o )sql" BSUP_GRANT_OF("o") R"sql(
  WHERE o.key IN (SELECT key FROM released) ORDER BY o.key RETURNING id),
)sql" BSUP_HISTORY_TRIM("recorded") R"sql(
SELECT r.key, pg_notify('blacksmith_supervisor', r.key), true
FROM released r WHERE EXISTS (SELECT 1 FROM ended WHERE alive) ORDER BY r.key)sql";

// Whether a session waits in the queue of a key that the session $1 holds.
constexpr const char* k_session_waited =
    "SELECT EXISTS (SELECT 1 FROM blacksmith_supervisor.locks l"
    " JOIN blacksmith_supervisor.bsup_waiters w ON w.key = l.key"
    " WHERE l.is_acquired AND l.session_id = $1::text)";

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

// Starts the session $1 (service $2-$7, TTL $8 ms) and, in the same statement, forgets lapsed
// sessions, frees their locks and drops their places in queues, so that the tables stay small
// (correctness never depends on it), recording the expiry of those locks (`o` reads the rows as
// they were before the statement).
constexpr const char* k_init = R"sql(
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

// The keys held by live sessions (and Blacksmith's rows), sorted.
constexpr const char* k_held = BSUP_STATUS_SELECT
    " WHERE l.is_acquired AND (s.id IS NULL OR s.expires_at > now()) ORDER BY l.key";

} // namespace bsup::drivers::postgres::statements
