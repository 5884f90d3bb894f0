#pragma once

// One connection to PostgreSQL, every call bounded by --timeout: connecting, each statement
// (cancelled on the server when the deadline passes), and waiting for notifications. Only
// parameterized statements (the extended protocol, unnamed statements) and constant scripts are
// sent, so it works behind PgBouncer in transaction mode; named statements only after
// keep_prepared(), which the driver calls only on a connection straight to the server.
//
// Two implementations: bsup's own protocol client (wire_connection.cpp), for plain TCP and unix
// sockets, which loads nothing; and libpq (libpq_connection.cpp), loaded on first use, for
// everything else (TLS, Kerberos, service files, several hosts...). connect() chooses.

#include "core/clock.hpp"
#include "core/duration.hpp"
#include "core/errors.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace bsup::drivers::postgres {

// An error the server answered, with its SQLSTATE (e.g. "42P01" for a table that does not exist).
class ServerError : public core::Error {
  public:
    ServerError(std::string sqlstate, const std::string& message, std::string hint);
    const std::string& sqlstate() const { return m_sqlstate; }

  private:
    std::string m_sqlstate;
};

// The rows of a statement, as text (nullopt for NULL).
class Result {
  public:
    using Row = std::vector<std::optional<std::string>>;
    Result() = default;
    explicit Result(std::vector<Row> rows) : m_rows(std::move(rows)) {}

    int rows() const { return static_cast<int>(m_rows.size()); }
    bool is_null(int row, int column) const;
    std::string text(int row, int column) const;
    bool boolean(int row, int column) const;
    std::int64_t integer(int row, int column) const;
    std::optional<std::int64_t> optional_integer(int row, int column) const;

  private:
    std::vector<Row> m_rows;
};

// A statement parameter: text, or SQL NULL when empty.
using Param = std::optional<std::string>;

class Connection {
  public:
    virtual ~Connection() = default;

    // One parameterized statement (text in, text out); a prepared one after keep_prepared().
    Result query(const char* sql, const std::vector<Param>& params = {});

    // From now on, keeps each statement that query() runs prepared on the server, with a generic
    // plan: running it again skips parsing and planning, which take most of the time of bsup's
    // statements (docs/DESIGN.md "Hand-off"). Only on a connection straight to the server: a
    // pooler in transaction mode gives the server connection that knows the statement to others.
    void keep_prepared();

    // After keep_prepared(): parses and plans `sql`, which has `parameters` parameters, without
    // running it, so that its first query() costs one execution. Before: nothing.
    void prepare(const char* sql, int parameters);

    // A constant script of several statements, run by the server as one implicit transaction.
    virtual void script(const std::string& sql) = 0;

    // Waits until a notification arrives or `until`; returns the payloads received (possibly
    // none). LISTEN first with script().
    virtual std::vector<std::string> notifications(core::TimePoint until) = 0;

    // The backend's process ID as the connection start-up announced it (a pooler announces its
    // own, which differs from pg_backend_pid()).
    virtual int announced_pid() const = 0;

    // "host:port" of the server, for messages.
    const std::string& where() const { return m_where; }

  protected:
    // Runs `sql`: as the unnamed statement when `name` is empty, else as the prepared statement
    // `name`, parsed first when `parse`.
    virtual Result execute(const std::string& name, bool parse, const char* sql,
                           const std::vector<Param>& params) = 0;
    // Parses `sql` as the prepared statement `name`.
    virtual void parse(const std::string& name, const char* sql) = 0;

    std::string m_where;

  private:
    std::string next_name();

    bool m_keep_prepared = false;
    std::unordered_map<std::string, std::string> m_prepared; // SQL text -> statement name
    int m_names = 0;
};

// Connects with `conninfo` (a URI, key=value pairs, or empty for the PG* variables), with
// application_name "bsup" unless it names one. Throws a backend Error naming host and port.
// BSUP_POSTGRES_CLIENT=libpq makes it use libpq whatever the connection.
std::unique_ptr<Connection> connect(const std::string& conninfo, core::Duration timeout);

// The failures both implementations report, in the same words.
namespace failure {
// Folds a multi-line server or libpq message into one line, secrets removed.
std::string one_line(std::string_view text);
[[noreturn]] void bad_connection_string(const std::string& detail);
[[noreturn]] void cannot_connect(const std::string& where, const std::string& detail);
[[noreturn]] void connect_timeout(const std::string& where, core::Duration timeout);
[[noreturn]] void lost(const std::string& where, const std::string& what,
                       const std::string& detail);
[[noreturn]] void statement_timeout(const std::string& where, const std::string& what,
                                    core::Duration timeout);
ServerError refused(const std::string& where, const std::string& what, const std::string& sqlstate,
                    const std::string& message);
} // namespace failure

} // namespace bsup::drivers::postgres
