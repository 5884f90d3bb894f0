#include "drivers/postgres/connection.hpp"

#include "core/redact.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <poll.h>

namespace bsup::drivers::postgres {

namespace {

constexpr const char* k_connect_hint =
    "check that the server runs and accepts connections there, and the host, port, user, "
    "password and database of --connection (or BSUP_CONNECTION, POSTGRES_SUPERVISOR_URL, "
    "DATABASE_URL, the PG* variables), and the server's pg_hba.conf";

// libpq's messages span lines ("...failed: Connection refused\n\tIs the server running...");
// one line reads better after "bsup: error:". Secrets are removed, should one ever show up.
std::string one_line(const char* text) {
    std::string out;
    bool space = false;
    for (const char* p = text != nullptr ? text : ""; *p != '\0'; ++p) {
        if (*p == '\n' || *p == '\t' || *p == '\r' || *p == ' ') {
            space = !out.empty();
            continue;
        }
        if (space) {
            out += ' ';
            space = false;
        }
        out += *p;
    }
    return core::redact(out);
}

void clear_result(PGresult* result) {
    if (result != nullptr) {
        libpq().PQclear(result);
    }
}

void finish(PGconn* conn) {
    if (conn != nullptr) {
        libpq().PQfinish(conn);
    }
}

} // namespace

ServerError::ServerError(std::string sqlstate, const std::string& message, std::string hint)
    : core::Error(core::ExitCode::backend,
                  sqlstate.rfind("28", 0) == 0 || sqlstate == "42501" ? "backend_denied"
                                                                      : "backend_error",
                  message, std::move(hint)),
      m_sqlstate(std::move(sqlstate)) {}

Result::Result(PGresult* result) : m_result(result, &clear_result) {}

int Result::rows() const {
    return libpq().PQntuples(m_result.get());
}

bool Result::is_null(int row, int column) const {
    return libpq().PQgetisnull(m_result.get(), row, column) != 0;
}

std::string Result::text(int row, int column) const {
    if (is_null(row, column)) {
        return {};
    }
    return std::string(libpq().PQgetvalue(m_result.get(), row, column),
                       static_cast<std::size_t>(libpq().PQgetlength(m_result.get(), row, column)));
}

bool Result::boolean(int row, int column) const {
    return text(row, column) == "t";
}

std::int64_t Result::integer(int row, int column) const {
    std::string value = text(row, column);
    return value.empty() ? 0 : std::stoll(value);
}

std::optional<std::int64_t> Result::optional_integer(int row, int column) const {
    if (is_null(row, column)) {
        return std::nullopt;
    }
    return integer(row, column);
}

Connection::Connection(const std::string& conninfo, core::Duration timeout)
    : m_timeout(timeout), m_conn(nullptr, &finish) {
    connect(conninfo);
}

std::string Connection::connection_error() const {
    return one_line(libpq().PQerrorMessage(m_conn.get()));
}

void Connection::connect(const std::string& conninfo) {
    const Libpq& pq = libpq();
    // expand_dbname: a URI or key=value string given as dbname is parsed as a whole connection
    // string; PG* variables fill what it leaves out; application_name "bsup" only as a fallback.
    const char* keywords[] = {"fallback_application_name", "dbname", nullptr};
    const char* values[] = {"bsup", conninfo.c_str(), nullptr};
    if (conninfo.empty()) {
        keywords[1] = nullptr;
    }
    core::TimePoint deadline = core::now() + m_timeout;
    m_conn.reset(pq.PQconnectStartParams(keywords, values, 1));
    if (!m_conn) {
        throw core::backend_error("cannot start a PostgreSQL connection: out of memory");
    }
    auto describe_where = [&] {
        const char* host = pq.PQhost(m_conn.get());
        const char* port = pq.PQport(m_conn.get());
        m_where = fmt::format("{}:{}", host != nullptr && *host != '\0' ? host : "localhost",
                              port != nullptr && *port != '\0' ? port : "5432");
    };
    if (pq.PQstatus(m_conn.get()) == CONNECTION_BAD) {
        // Refused before any host was tried: the connection string itself is wrong.
        throw core::Error(
            core::ExitCode::backend, "backend_unavailable",
            fmt::format("cannot use the PostgreSQL connection: {}", connection_error()),
            "check the form of --connection (a postgresql:// URI or key=value "
            "pairs; see libpq's documentation)");
    }
    PostgresPollingStatusType state = PGRES_POLLING_WRITING;
    while (state != PGRES_POLLING_OK) {
        describe_where();
        if (state == PGRES_POLLING_FAILED) {
            throw core::Error(
                core::ExitCode::backend, "backend_unavailable",
                fmt::format("cannot connect to PostgreSQL at {}: {}", m_where, connection_error()),
                k_connect_hint);
        }
        if (!wait_socket(state == PGRES_POLLING_WRITING, deadline)) {
            throw core::Error(core::ExitCode::backend, "backend_timeout",
                              fmt::format("cannot connect to PostgreSQL at {}: no answer within "
                                          "--timeout ({})",
                                          m_where, core::format_duration(m_timeout)),
                              k_connect_hint);
        }
        state = pq.PQconnectPoll(m_conn.get());
    }
    describe_where();
    pq.PQsetnonblocking(m_conn.get(), 1);
}

bool Connection::wait_socket(bool for_write, core::TimePoint deadline) const {
    for (;;) {
        core::Duration left = deadline - core::now();
        if (left <= core::Duration(0)) {
            return false;
        }
        pollfd fd{};
        fd.fd = libpq().PQsocket(m_conn.get());
        fd.events = static_cast<short>(for_write ? POLLOUT : POLLIN);
        if (fd.fd < 0) {
            return true; // libpq reports the failure on its next call
        }
        int ms = static_cast<int>(std::min<core::Duration::rep>(left.count(), 60'000));
        int rc = ::poll(&fd, 1, ms);
        if (rc > 0 || (rc < 0 && errno != EINTR)) {
            return true;
        }
    }
}

void Connection::send_failed(const std::string& what) {
    throw core::Error(
        core::ExitCode::backend, "backend_unavailable",
        fmt::format("PostgreSQL at {}: cannot {}: {}", m_where, what, connection_error()),
        "check that the server still runs; retry");
}

void Connection::timed_out(const std::string& what) {
    // Ask the server to stop the statement, so that it does not go on after bsup gave up.
    if (PGcancel* cancel = libpq().PQgetCancel(m_conn.get())) {
        char ignored[256];
        libpq().PQcancel(cancel, ignored, sizeof ignored);
        libpq().PQfreeCancel(cancel);
    }
    throw core::Error(core::ExitCode::backend, "backend_timeout",
                      fmt::format("PostgreSQL at {} did not {} within --timeout ({})", m_where,
                                  what, core::format_duration(m_timeout)),
                      "check the server's load and locks (pg_stat_activity), or raise --timeout");
}

// Reads every result of the statement sent; returns the last, or throws the first error.
std::optional<Result> Connection::collect(const std::string& what, core::TimePoint deadline) {
    const Libpq& pq = libpq();
    for (;;) {
        int flushed = pq.PQflush(m_conn.get());
        if (flushed < 0) {
            send_failed(what);
        }
        if (flushed == 0) {
            break;
        }
        if (!wait_socket(true, deadline)) {
            timed_out(what);
        }
    }
    std::optional<Result> last;
    std::optional<ServerError> error;
    for (;;) {
        while (pq.PQisBusy(m_conn.get()) != 0) {
            if (!wait_socket(false, deadline)) {
                timed_out(what);
            }
            if (pq.PQconsumeInput(m_conn.get()) == 0) {
                send_failed(what);
            }
        }
        PGresult* raw = pq.PQgetResult(m_conn.get());
        if (raw == nullptr) {
            break;
        }
        Result result(raw);
        ExecStatusType status = pq.PQresultStatus(raw);
        if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
            last.emplace(std::move(result));
        } else if (!error) {
            const char* state = pq.PQresultErrorField(raw, PG_DIAG_SQLSTATE);
            const char* primary = pq.PQresultErrorField(raw, PG_DIAG_MESSAGE_PRIMARY);
            std::string sqlstate = state != nullptr ? state : "";
            std::string message =
                primary != nullptr ? one_line(primary) : one_line(pq.PQresultErrorMessage(raw));
            if (sqlstate.empty() && pq.PQstatus(m_conn.get()) == CONNECTION_BAD) {
                send_failed(what);
            }
            error.emplace(sqlstate,
                          fmt::format("PostgreSQL at {} refused to {}: {} (SQLSTATE {})", m_where,
                                      what, message, sqlstate.empty() ? "none" : sqlstate),
                          sqlstate.rfind("42", 0) == 0 || sqlstate.rfind("28", 0) == 0
                              ? "check that the user may use (and on first use create) the "
                                "schema blacksmith_supervisor"
                              : "retry; if it persists, check the server's log");
        }
    }
    if (error) {
        throw *error;
    }
    return last;
}

Result Connection::query(const char* sql, const std::vector<Param>& params) {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const Param& p : params) {
        values.push_back(p ? p->c_str() : nullptr);
    }
    core::TimePoint deadline = core::now() + m_timeout;
    if (libpq().PQsendQueryParams(m_conn.get(), sql, static_cast<int>(values.size()), nullptr,
                                  values.data(), nullptr, nullptr, 0) == 0) {
        send_failed("send a statement");
    }
    std::optional<Result> result = collect("run a statement", deadline);
    if (!result) {
        send_failed("read a statement's result");
    }
    return std::move(*result);
}

void Connection::script(const std::string& sql) {
    core::TimePoint deadline = core::now() + m_timeout;
    if (libpq().PQsendQuery(m_conn.get(), sql.c_str()) == 0) {
        send_failed("send a statement");
    }
    collect("update bsup's schema", deadline);
}

std::vector<std::string> Connection::notifications(core::TimePoint until) {
    const Libpq& pq = libpq();
    std::vector<std::string> out;
    auto drain = [&] {
        if (pq.PQconsumeInput(m_conn.get()) == 0) {
            send_failed("wait for a notification");
        }
        while (PGnotify* note = pq.PQnotifies(m_conn.get())) {
            out.emplace_back(note->extra != nullptr ? note->extra : "");
            pq.PQfreemem(note);
        }
    };
    drain();
    if (out.empty() && wait_socket(false, until)) {
        drain();
    }
    return out;
}

int Connection::announced_pid() const {
    return libpq().PQbackendPID(m_conn.get());
}

} // namespace bsup::drivers::postgres
