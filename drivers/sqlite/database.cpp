#include "drivers/sqlite/database.hpp"

#include "core/errors.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>
#include <sys/stat.h>
#include <thread>

namespace bsup::drivers::sqlite {

namespace {

// WAL pages past which a connection checkpoints and empties the WAL when it closes (SQLite's
// automatic checkpoint waits for 1000, 4 MB: too long to read back at every start). A lock or
// unlock writes two to four pages.
constexpr int k_wal_checkpoint_pages = 64;

void ensure_folder(const std::filesystem::path& folder) {
    if (folder.empty() || std::filesystem::is_directory(folder)) {
        return;
    }
    ensure_folder(folder.parent_path());
    if (::mkdir(folder.c_str(), 0700) != 0 && errno != EEXIST) {
        throw core::backend_error(
            fmt::format("cannot create the folder {} for the sqlite database: {}", folder.string(),
                        std::strerror(errno)),
            "check its permissions, or pass --connection sqlite:/another/path.db");
    }
}

// Before SQLite's first use in the process: no lookaside buffer and no bulk page-cache
// allocation, both made (and written through) at open for workloads far larger than a bsup
// call's few statements, which pay for them in peak memory. Pages are allocated as used.
void configure_sqlite_once() {
    static const bool configured = [] {
        sqlite3_config(SQLITE_CONFIG_LOOKASIDE, 0, 0);
        sqlite3_config(SQLITE_CONFIG_PAGECACHE, nullptr, 0, 0);
        return true;
    }();
    (void)configured;
}

// Switching a new database to WAL takes an exclusive lock, and SQLite answers SQLITE_BUSY at once,
// without calling the busy handler, while another connection holds a lock: as happens when many
// processes open a new database together. Retried here until the busy timeout has passed.
int set_wal_mode_with_retry(sqlite3* db, core::Duration busy_timeout) {
    auto deadline = std::chrono::steady_clock::now() + busy_timeout;
    for (;;) {
        int rc = sqlite3_exec(db, "PRAGMA journal_mode=WAL", nullptr, nullptr, nullptr);
        if ((rc & 0xFF) != SQLITE_BUSY || std::chrono::steady_clock::now() >= deadline) {
            return rc;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
}

} // namespace

Database::Database(std::string path, core::Duration busy_timeout)
    : m_path(std::move(path)), m_db(nullptr, &sqlite3_close), m_busy_timeout(busy_timeout) {
    configure_sqlite_once();
    ensure_folder(std::filesystem::path(m_path).parent_path());
    sqlite3* raw = nullptr;
    int rc =
        sqlite3_open_v2(m_path.c_str(), &raw,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    m_db.reset(raw);
    if (rc != SQLITE_OK) {
        fail("cannot open");
    }
    sqlite3_busy_handler(m_db.get(), &Database::retry_when_busy, this);
    // WAL lets readers go on while one process writes; NORMAL syncs at checkpoints, not at every
    // commit: a lock table needs atomicity, and after a power loss its holders are gone anyway.
    if (set_wal_mode_with_retry(m_db.get(), busy_timeout) != SQLITE_OK) {
        fail("cannot run 'PRAGMA journal_mode=WAL'");
    }
    execute("PRAGMA synchronous=NORMAL");
    execute("PRAGMA foreign_keys=OFF");
    // Each bsup process is a short-lived connection, most often the only one. By default the
    // last connection to close checkpoints the WAL into the database and deletes it (two fsyncs),
    // and the next one creates it again (one fsync of the WAL header, one of the folder): four
    // fsyncs a call, most of its time. Leave the WAL in place instead, and reset it only when it
    // has grown past k_wal_checkpoint_pages (see the destructor); the next process reads it back
    // at open, cheap while it is that short. Durability is unchanged: with synchronous=NORMAL a
    // commit is not synced in either case, a checkpoint always is.
    sqlite3_db_config(m_db.get(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
    // Replaces the automatic checkpoint after a commit: in a process that ends right after its
    // commit it would be wasted, since the next process, the first to open the WAL index again,
    // rebuilds it from the WAL and so never restarts the log: the WAL would only grow.
    sqlite3_wal_hook(
        m_db.get(),
        [](void* self, sqlite3*, const char*, int frames) {
            static_cast<Database*>(self)->m_wal_frames = frames;
            return SQLITE_OK;
        },
        this);
}

Database::~Database() {
    if (!m_db || m_wal_frames < k_wal_checkpoint_pages) {
        return;
    }
    // Copy the WAL into the database and empty it. Only if no other connection is busy (no
    // waiting here: a later process will do it); the error is of no consequence either way.
    sqlite3_busy_timeout(m_db.get(), 0);
    sqlite3_wal_checkpoint_v2(m_db.get(), nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
}

// SQLite's own busy handler (sqlite3_busy_timeout) sleeps 1, 2, 5, 10, 15, 20, 25... ms between
// tries, while bsup's transactions hold the write lock for a few hundred microseconds: a waiter
// that wakes at the first write of the holder's release would sleep milliseconds, most of the
// hand-off. Tries again after 0.1 ms, doubling up to 10 ms, until the busy timeout has passed.
int Database::retry_when_busy(void* self, int attempt) {
    auto* db = static_cast<Database*>(self);
    auto now = std::chrono::steady_clock::now();
    if (attempt == 0) {
        db->m_busy_since = now;
    }
    auto left = db->m_busy_timeout - (now - db->m_busy_since);
    if (left <= decltype(left)::zero()) {
        return 0; // SQLITE_BUSY for the caller
    }
    std::chrono::microseconds pause(std::min(100 << std::min(attempt, 7), 10'000));
    std::this_thread::sleep_for(std::min<decltype(left)>(pause, left));
    return 1;
}

void Database::execute(const char* sql) {
    if (sqlite3_exec(m_db.get(), sql, nullptr, nullptr, nullptr) != SQLITE_OK) {
        fail(fmt::format("cannot run '{}'", sql));
    }
}

void Database::fail(const std::string& what) const {
    int code = m_db ? sqlite3_extended_errcode(m_db.get()) : SQLITE_CANTOPEN;
    std::string detail = m_db ? sqlite3_errmsg(m_db.get()) : "out of memory";
    if ((code & 0xFF) == SQLITE_BUSY || (code & 0xFF) == SQLITE_LOCKED) {
        throw core::Error(core::ExitCode::backend, "backend_timeout",
                          fmt::format("sqlite database {} stayed locked by another process past "
                                      "--timeout ({}): {}",
                                      m_path, core::format_duration(m_busy_timeout), detail),
                          "retry, or raise --timeout");
    }
    throw core::backend_error(fmt::format("sqlite database {}: {}: {}", m_path, what, detail),
                              "check that the file is a bsup database and that you may write "
                              "to it and its folder");
}

Statement::Statement(Database& db, const char* sql) : m_db(db), m_stmt(nullptr, &sqlite3_finalize) {
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(db.handle(), sql, -1, &raw, nullptr) != SQLITE_OK) {
        db.fail("cannot prepare a statement");
    }
    m_stmt.reset(raw);
}

Statement& Statement::bind(int index, const std::string& value) {
    if (sqlite3_bind_text(m_stmt.get(), index, value.data(), static_cast<int>(value.size()),
                          SQLITE_TRANSIENT) != SQLITE_OK) {
        m_db.fail("cannot bind a value");
    }
    return *this;
}

Statement& Statement::bind(int index, std::int64_t value) {
    if (sqlite3_bind_int64(m_stmt.get(), index, value) != SQLITE_OK) {
        m_db.fail("cannot bind a value");
    }
    return *this;
}

Statement& Statement::bind_null(int index) {
    if (sqlite3_bind_null(m_stmt.get(), index) != SQLITE_OK) {
        m_db.fail("cannot bind a value");
    }
    return *this;
}

bool Statement::step() {
    int rc = sqlite3_step(m_stmt.get());
    if (rc == SQLITE_ROW) {
        return true;
    }
    if (rc == SQLITE_DONE) {
        return false;
    }
    m_db.fail("a statement failed");
}

std::string Statement::text(int column) const {
    const unsigned char* value = sqlite3_column_text(m_stmt.get(), column);
    if (value == nullptr) {
        return {};
    }
    return std::string(reinterpret_cast<const char*>(value),
                       static_cast<std::size_t>(sqlite3_column_bytes(m_stmt.get(), column)));
}

std::int64_t Statement::integer(int column) const {
    return sqlite3_column_int64(m_stmt.get(), column);
}

std::optional<std::int64_t> Statement::optional_integer(int column) const {
    if (sqlite3_column_type(m_stmt.get(), column) == SQLITE_NULL) {
        return std::nullopt;
    }
    return integer(column);
}

std::optional<std::string> Statement::optional_text(int column) const {
    if (sqlite3_column_type(m_stmt.get(), column) == SQLITE_NULL) {
        return std::nullopt;
    }
    return text(column);
}

int Database::changes() const {
    return sqlite3_changes(m_db.get());
}

Database::Transaction::Transaction(Database& db) : m_db(db) {
    m_db.execute("BEGIN IMMEDIATE");
}

Database::Transaction::~Transaction() {
    if (!m_done) {
        sqlite3_exec(m_db.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
    }
}

void Database::Transaction::commit() {
    m_db.execute("COMMIT");
    m_done = true;
}

} // namespace bsup::drivers::sqlite
