#pragma once

// One libpq connection, used without blocking so that every call is bounded by --timeout:
// connecting, each statement (cancelled on the server when the deadline passes), and waiting for
// notifications. Only parameterized statements (the extended protocol, unnamed statements) and
// constant scripts are sent, so it works behind PgBouncer in transaction mode.

#include "core/clock.hpp"
#include "core/duration.hpp"
#include "core/errors.hpp"
#include "drivers/postgres/libpq.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
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

// The rows of a statement, as text.
class Result {
  public:
    explicit Result(PGresult* result);

    int rows() const;
    bool is_null(int row, int column) const;
    std::string text(int row, int column) const;
    bool boolean(int row, int column) const;
    std::int64_t integer(int row, int column) const;
    std::optional<std::int64_t> optional_integer(int row, int column) const;

  private:
    std::unique_ptr<PGresult, void (*)(PGresult*)> m_result;
};

// A statement parameter: text, or SQL NULL when empty.
using Param = std::optional<std::string>;

class Connection {
  public:
    // Connects with `conninfo` (a URI, key=value pairs, or empty for the PG* variables), with
    // application_name "bsup" unless it names one. Throws a backend Error naming host and port.
    Connection(const std::string& conninfo, core::Duration timeout);

    // One parameterized statement (PQsendQueryParams: text in, text out).
    Result query(const char* sql, const std::vector<Param>& params = {});

    // A constant script of several statements, run by the server as one implicit transaction.
    void script(const std::string& sql);

    // Waits until a notification arrives or `until`; returns the payloads received (possibly
    // none). LISTEN first with script().
    std::vector<std::string> notifications(core::TimePoint until);

    // The backend's process ID as the connection start-up announced it (a pooler announces its
    // own, which differs from pg_backend_pid()).
    int announced_pid() const;

    // "host:port" of the server, for messages.
    const std::string& where() const { return m_where; }

  private:
    void connect(const std::string& conninfo);
    // Waits for the socket to be readable (or writable) until the deadline; false on timeout.
    bool wait_socket(bool for_write, core::TimePoint deadline) const;
    std::optional<Result> collect(const std::string& what, core::TimePoint deadline);
    void send_failed(const std::string& what);
    [[noreturn]] void timed_out(const std::string& what);
    std::string connection_error() const;

    core::Duration m_timeout;
    std::string m_where;
    std::unique_ptr<PGconn, void (*)(PGconn*)> m_conn;
};

} // namespace bsup::drivers::postgres
