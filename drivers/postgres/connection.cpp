#include "drivers/postgres/connection.hpp"

#include "core/redact.hpp"
#include "drivers/postgres/conninfo.hpp"
#include "drivers/postgres/libpq_connection.hpp"
#include "drivers/postgres/wire_connection.hpp"

#include <fmt/format.h>

namespace bsup::drivers::postgres {

namespace {

constexpr const char* k_connect_hint =
    "check that the server runs and accepts connections there, and the host, port, user, "
    "password and database of --connection (or BSUP_CONNECTION, POSTGRES_SUPERVISOR_URL, "
    "DATABASE_URL, the PG* variables), and the server's pg_hba.conf";

constexpr const char* k_tls_hint =
    "check sslmode and, for verify-ca and verify-full, that sslrootcert (default "
    "~/.postgresql/root.crt) holds the CA that signed the server's certificate and that the "
    "certificate names the host you connect to";

} // namespace

ServerError::ServerError(std::string sqlstate, const std::string& message, std::string hint)
    : core::Error(core::ExitCode::backend,
                  sqlstate.rfind("28", 0) == 0 || sqlstate == "42501" ? "backend_denied"
                                                                      : "backend_error",
                  message, std::move(hint)),
      m_sqlstate(std::move(sqlstate)) {}

bool Result::is_null(int row, int column) const {
    return !m_rows.at(static_cast<std::size_t>(row)).at(static_cast<std::size_t>(column));
}

std::string Result::text(int row, int column) const {
    return m_rows.at(static_cast<std::size_t>(row))
        .at(static_cast<std::size_t>(column))
        .value_or(std::string());
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

Result Connection::query(const char* sql, const std::vector<Param>& params) {
    if (!m_keep_prepared) {
        return execute({}, false, sql, params);
    }
    if (auto known = m_prepared.find(sql); known != m_prepared.end()) {
        return execute(known->second, false, sql, params);
    }
    // A name is never used twice: a statement parsed but failed to run may exist on the server.
    std::string name = next_name();
    Result result = execute(name, true, sql, params);
    m_prepared.emplace(sql, std::move(name));
    return result;
}

void Connection::keep_prepared() {
    if (m_keep_prepared) {
        return;
    }
    // Plan once for any parameters. bsup's statements find rows by primary key, which a generic
    // plan does as well as a custom one.
    try {
        script("SET plan_cache_mode = force_generic_plan");
    } catch (const ServerError& e) {
        if (e.sqlstate() != "42704") { // before PostgreSQL 12: planned each time, parsed once
            throw;
        }
    }
    m_keep_prepared = true;
}

void Connection::prepare(const char* sql, int parameters) {
    if (!m_keep_prepared || m_prepared.count(sql) != 0) {
        return;
    }
    std::string name = next_name();
    parse(name, sql);
    m_prepared.emplace(sql, name);
    // EXPLAIN EXECUTE plans the statement (and keeps its generic plan) without running it.
    std::string nulls;
    for (int i = 0; i < parameters; ++i) {
        nulls += i == 0 ? "(NULL" : ", NULL";
    }
    script(fmt::format("EXPLAIN EXECUTE {}{}", name, parameters > 0 ? nulls + ")" : ""));
}

std::string Connection::next_name() {
    return fmt::format("bsup_{}", ++m_names);
}

std::unique_ptr<Connection> connect(const std::string& conninfo, core::Duration timeout) {
    core::Environment env = core::process_environment();
    if (env("BSUP_POSTGRES_CLIENT").value_or("") != "libpq") {
        if (std::optional<WireTarget> target = wire_target(conninfo, env)) {
            try {
                return std::make_unique<WireConnection>(*target, timeout);
            } catch (const WireConnection::NeedsLibpq&) {
                // TLS offered, or an authentication only libpq knows: libpq connects instead.
            }
        }
    }
    return std::make_unique<LibpqConnection>(conninfo, timeout);
}

namespace failure {

std::string one_line(std::string_view text) {
    std::string out;
    bool space = false;
    for (char c : text) {
        if (c == '\n' || c == '\t' || c == '\r' || c == ' ') {
            space = !out.empty();
            continue;
        }
        if (space) {
            out += ' ';
            space = false;
        }
        out += c;
    }
    return core::redact(out);
}

void bad_connection_string(const std::string& detail) {
    throw core::Error(core::ExitCode::backend, "backend_unavailable",
                      fmt::format("cannot use the PostgreSQL connection: {}", detail),
                      "check the form of --connection (a postgresql:// URI or key=value "
                      "pairs; see libpq's documentation)");
}

void cannot_connect(const std::string& where, const std::string& detail) {
    // libpq's TLS failures: the hint names what to check for them.
    bool tls =
        detail.find("SSL") != std::string::npos || detail.find("certificate") != std::string::npos;
    throw core::Error(core::ExitCode::backend, "backend_unavailable",
                      fmt::format("cannot connect to PostgreSQL at {}: {}", where, detail),
                      tls ? k_tls_hint : k_connect_hint);
}

void connect_timeout(const std::string& where, core::Duration timeout) {
    throw core::Error(
        core::ExitCode::backend, "backend_timeout",
        fmt::format("cannot connect to PostgreSQL at {}: no answer within --timeout ({})", where,
                    core::format_duration(timeout)),
        k_connect_hint);
}

void lost(const std::string& where, const std::string& what, const std::string& detail) {
    throw core::Error(core::ExitCode::backend, "backend_unavailable",
                      fmt::format("PostgreSQL at {}: cannot {}: {}", where, what, detail),
                      "check that the server still runs; retry");
}

void statement_timeout(const std::string& where, const std::string& what, core::Duration timeout) {
    throw core::Error(core::ExitCode::backend, "backend_timeout",
                      fmt::format("PostgreSQL at {} did not {} within --timeout ({})", where, what,
                                  core::format_duration(timeout)),
                      "check the server's load and locks (pg_stat_activity), or raise --timeout");
}

ServerError refused(const std::string& where, const std::string& what, const std::string& sqlstate,
                    const std::string& message) {
    return ServerError(sqlstate,
                       fmt::format("PostgreSQL at {} refused to {}: {} (SQLSTATE {})", where, what,
                                   one_line(message), sqlstate.empty() ? "none" : sqlstate),
                       sqlstate.rfind("42", 0) == 0 || sqlstate.rfind("28", 0) == 0
                           ? "check that the user may use (and on first use create) the "
                             "schema blacksmith_supervisor"
                           : "retry; if it persists, check the server's log");
}

} // namespace failure

} // namespace bsup::drivers::postgres
