#include "drivers/postgres/libpq_connection.hpp"

#include "drivers/net/stream_socket.hpp"

#include <fmt/format.h>
#include <poll.h>

namespace bsup::drivers::postgres {

namespace {

void finish(PGconn* conn) {
    if (conn != nullptr) {
        libpq().PQfinish(conn);
    }
}

using ResultHandle = std::unique_ptr<PGresult, void (*)(PGresult*)>;

void clear_result(PGresult* result) {
    if (result != nullptr) {
        libpq().PQclear(result);
    }
}

Result copy_rows(PGresult* result) {
    const Libpq& pq = libpq();
    std::vector<Result::Row> rows(static_cast<std::size_t>(pq.PQntuples(result)));
    int columns = pq.PQnfields(result);
    for (std::size_t r = 0; r < rows.size(); ++r) {
        int row = static_cast<int>(r);
        for (int c = 0; c < columns; ++c) {
            if (pq.PQgetisnull(result, row, c) != 0) {
                rows[r].emplace_back(std::nullopt);
            } else {
                rows[r].emplace_back(
                    std::string(pq.PQgetvalue(result, row, c),
                                static_cast<std::size_t>(pq.PQgetlength(result, row, c))));
            }
        }
    }
    return Result(std::move(rows));
}

} // namespace

LibpqConnection::LibpqConnection(const std::string& conninfo, core::Duration timeout)
    : m_timeout(timeout), m_conn(nullptr, &finish) {
    connect(conninfo);
}

std::string LibpqConnection::connection_error() const {
    const char* text = libpq().PQerrorMessage(m_conn.get());
    return failure::one_line(text != nullptr ? text : "");
}

void LibpqConnection::connect(const std::string& conninfo) {
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
        failure::bad_connection_string(connection_error());
    }
    PostgresPollingStatusType state = PGRES_POLLING_WRITING;
    while (state != PGRES_POLLING_OK) {
        describe_where();
        if (state == PGRES_POLLING_FAILED) {
            failure::cannot_connect(m_where, connection_error());
        }
        if (!wait_socket(state == PGRES_POLLING_WRITING, deadline)) {
            failure::connect_timeout(m_where, m_timeout);
        }
        state = pq.PQconnectPoll(m_conn.get());
    }
    describe_where();
    pq.PQsetnonblocking(m_conn.get(), 1);
}

bool LibpqConnection::wait_socket(bool for_write, core::TimePoint deadline) const {
    int fd = libpq().PQsocket(m_conn.get());
    if (fd < 0) {
        return true; // libpq reports the failure on its next call
    }
    // A failed poll (not a timeout) also returns true: libpq then reports what is wrong.
    return net::wait_ready(fd, static_cast<short>(for_write ? POLLOUT : POLLIN), deadline) ||
           core::now() < deadline;
}

void LibpqConnection::send_failed(const std::string& what) {
    failure::lost(m_where, what, connection_error());
}

void LibpqConnection::timed_out(const std::string& what) {
    // Ask the server to stop the statement, so that it does not go on after bsup gave up.
    if (PGcancel* cancel = libpq().PQgetCancel(m_conn.get())) {
        char ignored[256];
        libpq().PQcancel(cancel, ignored, sizeof ignored);
        libpq().PQfreeCancel(cancel);
    }
    failure::statement_timeout(m_where, what, m_timeout);
}

// Reads every result of the statement sent; returns the last, or throws the first error.
std::optional<Result> LibpqConnection::collect(const std::string& what, core::TimePoint deadline) {
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
        ResultHandle raw(pq.PQgetResult(m_conn.get()), &clear_result);
        if (!raw) {
            break;
        }
        ExecStatusType status = pq.PQresultStatus(raw.get());
        if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
            last.emplace(copy_rows(raw.get()));
        } else if (!error) {
            const char* state = pq.PQresultErrorField(raw.get(), PG_DIAG_SQLSTATE);
            const char* primary = pq.PQresultErrorField(raw.get(), PG_DIAG_MESSAGE_PRIMARY);
            std::string sqlstate = state != nullptr ? state : "";
            if (sqlstate.empty() && pq.PQstatus(m_conn.get()) == CONNECTION_BAD) {
                send_failed(what);
            }
            const char* text = primary != nullptr ? primary : pq.PQresultErrorMessage(raw.get());
            error.emplace(failure::refused(m_where, what, sqlstate, text != nullptr ? text : ""));
        }
    }
    if (error) {
        throw *error;
    }
    return last;
}

Result LibpqConnection::execute(const std::string& name, bool parse, const char* sql,
                                const std::vector<Param>& params) {
    if (parse) {
        this->parse(name, sql);
    }
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const Param& p : params) {
        values.push_back(p ? p->c_str() : nullptr);
    }
    const Libpq& pq = libpq();
    const int count = static_cast<int>(values.size());
    core::TimePoint deadline = core::now() + m_timeout;
    int sent = name.empty() ? pq.PQsendQueryParams(m_conn.get(), sql, count, nullptr, values.data(),
                                                   nullptr, nullptr, 0)
                            : pq.PQsendQueryPrepared(m_conn.get(), name.c_str(), count,
                                                     values.data(), nullptr, nullptr, 0);
    if (sent == 0) {
        send_failed("send a statement");
    }
    std::optional<Result> result = collect("run a statement", deadline);
    if (!result) {
        send_failed("read a statement's result");
    }
    return std::move(*result);
}

void LibpqConnection::parse(const std::string& name, const char* sql) {
    core::TimePoint deadline = core::now() + m_timeout;
    if (libpq().PQsendPrepare(m_conn.get(), name.c_str(), sql, 0, nullptr) == 0) {
        send_failed("prepare a statement");
    }
    collect("prepare a statement", deadline);
}

void LibpqConnection::script(const std::string& sql) {
    core::TimePoint deadline = core::now() + m_timeout;
    if (libpq().PQsendQuery(m_conn.get(), sql.c_str()) == 0) {
        send_failed("send a statement");
    }
    collect("update bsup's schema", deadline);
}

std::vector<std::string> LibpqConnection::notifications(core::TimePoint until) {
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

int LibpqConnection::announced_pid() const {
    return libpq().PQbackendPID(m_conn.get());
}

} // namespace bsup::drivers::postgres
