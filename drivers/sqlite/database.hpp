#pragma once

// A thin RAII layer over the SQLite C API: one connection, prepared statements, and immediate
// transactions. Every failure becomes a core::Error (exit 3) that names the database file.

#include "core/duration.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <sqlite3.h>
#include <string>

namespace bsup::drivers::sqlite {

class Database;

class Statement {
  public:
    Statement(Database& db, const char* sql);

    Statement& bind(int index, const std::string& value);
    Statement& bind(int index, std::int64_t value);
    Statement& bind_null(int index);

    // Runs to the next row: true when there is one, false when done.
    bool step();

    std::string text(int column) const;
    std::int64_t integer(int column) const;
    std::optional<std::int64_t> optional_integer(int column) const;
    std::optional<std::string> optional_text(int column) const;

  private:
    Database& m_db;
    std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> m_stmt;
};

class Database {
  public:
    // Opens (creating it and its folder, mode 0700, if needed) the database at `path`, in WAL
    // mode, waiting up to `busy_timeout` for another process's write lock.
    Database(std::string path, core::Duration busy_timeout);
    // Checkpoints and empties the WAL when this connection's commits left it long.
    ~Database();
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;

    void execute(const char* sql);
    // The rows that the last INSERT, UPDATE or DELETE changed.
    int changes() const;
    [[noreturn]] void fail(const std::string& what) const;

    sqlite3* handle() const { return m_db.get(); }
    const std::string& path() const { return m_path; }

    // BEGIN IMMEDIATE on construction, ROLLBACK unless commit() was called: every read-modify-
    // write takes the write lock first, so concurrent processes serialize instead of failing.
    class Transaction {
      public:
        explicit Transaction(Database& db);
        Transaction(const Transaction&) = delete;
        Transaction& operator=(const Transaction&) = delete;
        ~Transaction();
        void commit();

      private:
        Database& m_db;
        bool m_done = false;
    };

  private:
    static int retry_when_busy(void* self, int attempt);

    std::string m_path;
    std::unique_ptr<sqlite3, decltype(&sqlite3_close)> m_db;
    int m_wal_frames = 0; // frames in the WAL after this connection's last commit
    core::Duration m_busy_timeout;
    std::chrono::steady_clock::time_point m_busy_since;
};

} // namespace bsup::drivers::sqlite
