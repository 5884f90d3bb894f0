#include "drivers/sqlite/database.hpp"

#include "core/errors.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>
#include <sys/stat.h>

namespace bsup::drivers::sqlite {

namespace {

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

} // namespace

Database::Database(std::string path, core::Duration busy_timeout)
    : m_path(std::move(path)), m_db(nullptr, &sqlite3_close) {
    ensure_folder(std::filesystem::path(m_path).parent_path());
    sqlite3* raw = nullptr;
    int rc = sqlite3_open_v2(m_path.c_str(), &raw,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             nullptr);
    m_db.reset(raw);
    if (rc != SQLITE_OK) {
        fail("cannot open");
    }
    auto ms = busy_timeout.count();
    sqlite3_busy_timeout(m_db.get(), ms > INT32_MAX ? INT32_MAX : static_cast<int>(ms));
    // WAL lets readers go on while one process writes; NORMAL syncs at checkpoints, not at every
    // commit: a lock table needs atomicity, and after a power loss its holders are gone anyway.
    execute("PRAGMA journal_mode=WAL");
    execute("PRAGMA synchronous=NORMAL");
    execute("PRAGMA foreign_keys=OFF");
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
                                      "--timeout ({})",
                                      m_path, detail),
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

Database::Transaction::Transaction(Database& db) : m_db(db) { m_db.execute("BEGIN IMMEDIATE"); }

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
