#include "core/connection.hpp"

#include "core/errors.hpp"
#include "core/redact.hpp"

#include <fmt/format.h>

namespace bsup::core {

namespace {

bool starts_with(std::string_view s, std::string_view prefix) {
    return s.substr(0, prefix.size()) == prefix;
}

std::optional<DriverName> driver_from_scheme(std::string_view connection) {
    for (std::string_view p : {"postgres://", "postgresql://"}) {
        if (starts_with(connection, p)) {
            return DriverName::postgres;
        }
    }
    for (std::string_view p : {"consul://", "http://", "https://", "unix://"}) {
        if (starts_with(connection, p)) {
            return DriverName::consul;
        }
    }
    if (starts_with(connection, "sqlite:")) {
        return DriverName::sqlite;
    }
    // libpq's key=value form: "host=db port=5432 dbname=app".
    if (connection.find('=') != std::string_view::npos &&
        connection.find("://") == std::string_view::npos) {
        return DriverName::postgres;
    }
    return std::nullopt;
}

std::optional<std::string> first_of(const Environment& env,
                                    std::initializer_list<const char*> names) {
    for (const char* name : names) {
        if (auto value = env(name)) {
            return value;
        }
    }
    return std::nullopt;
}

// sqlite: "sqlite:/abs/path.db", "sqlite:///abs/path.db", "sqlite:relative.db", or a bare path
// with --from sqlite. The endpoint names the absolute path, so that a state file can tell.
std::string sqlite_endpoint(const std::string& connection) {
    std::string path = connection;
    if (starts_with(path, "sqlite://")) {
        path = path.substr(9);
    } else if (starts_with(path, "sqlite:")) {
        path = path.substr(7);
    }
    if (path.find("://") != std::string::npos) {
        throw usage_error(fmt::format("'{}' is not a sqlite connection", redact(connection)),
                          "use sqlite:/path/to/bsup.db, or --from postgres/consul for a URL");
    }
    if (path.empty()) {
        throw usage_error("the sqlite connection names no file", "use sqlite:/path/to/bsup.db");
    }
    return "sqlite:" + std::filesystem::absolute(path).lexically_normal().string();
}

} // namespace

std::filesystem::path state_home(const Environment& env) {
    if (auto xdg = env("XDG_STATE_HOME")) {
        return std::filesystem::path(*xdg) / "bsup";
    }
    if (auto home = env("HOME")) {
        return std::filesystem::path(*home) / ".local" / "state" / "bsup";
    }
    throw usage_error(
        "cannot find a folder for bsup's files: neither XDG_STATE_HOME nor HOME is set",
        "set HOME, or pass --state-file and --connection");
}

ConnectionSettings resolve_connection(const ConnectionRequest& request, const Environment& env) {
    ConnectionSettings out;
    out.timeout = request.timeout;
    out.lock_delay = request.lock_delay;
    out.token_file = request.token_file;

    std::optional<std::string> from = request.from ? request.from : env("BSUP_FROM");
    std::optional<std::string> connection =
        request.connection ? request.connection : env("BSUP_CONNECTION");

    if (from) {
        auto driver = parse_driver_name(*from);
        if (!driver) {
            throw usage_error(fmt::format("unknown driver '{}'", *from),
                              "use --from sqlite, postgres or consul");
        }
        out.driver = *driver;
    } else if (connection) {
        auto driver = driver_from_scheme(*connection);
        if (!driver) {
            throw usage_error(
                fmt::format("cannot tell the driver from the connection '{}'", redact(*connection)),
                "use a postgres://, consul://, http(s):// or sqlite: connection, or pass --from");
        }
        out.driver = *driver;
    }

    if (!connection) {
        switch (out.driver) {
        case DriverName::postgres:
            connection = first_of(env, {"POSTGRES_SUPERVISOR_URL", "DATABASE_URL"});
            break;
        case DriverName::consul:
            connection = first_of(env, {"CONSUL_HTTP_ADDR", "CONSUL_ADDRESS"});
            break;
        case DriverName::sqlite:
            connection = "sqlite:" + (state_home(env) / "bsup.db").string();
            break;
        }
    }
    out.connection = connection.value_or("");
    out.endpoint = out.driver == DriverName::sqlite ? sqlite_endpoint(out.connection)
                                                    : redact_connection(out.connection);
    if (out.driver == DriverName::consul && out.endpoint.empty()) {
        out.endpoint = "http://127.0.0.1:8500";
    }
    return out;
}

} // namespace bsup::core
