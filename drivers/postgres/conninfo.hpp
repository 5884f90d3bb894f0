#pragma once

// Reads a libpq connection string (a postgresql:// URI, key=value pairs, or a bare database
// name) with the PG* variables and libpq's defaults, to decide whether bsup's own protocol
// client can make exactly the connection libpq would. It can for plain TCP and unix sockets
// with trust, password, md5 or SCRAM-SHA-256 authentication; anything else (TLS required, a
// service file, several hosts, session options, Kerberos) is left to libpq, which also reports
// malformed strings in its own words.

#include "core/environment.hpp"

#include <map>
#include <optional>
#include <string>

namespace bsup::drivers::postgres {

struct WireTarget {
    std::string host;      // TCP host name or address; empty for a unix socket
    std::string unix_path; // the socket file, e.g. /var/run/postgresql/.s.PGSQL.5432
    std::string port;
    std::string user;
    std::optional<std::string> password;
    std::string dbname;
    std::string application_name;
    bool ask_ssl = false;      // sslmode=prefer over TCP: ask, and leave TLS to libpq if offered
    int connect_timeout_s = 0; // libpq's connect_timeout; 0 when unset
    std::string where;         // "host:port", as messages show it
};

// The keywords and values of a connection string; nullopt when it is malformed.
std::optional<std::map<std::string, std::string>> parse_conninfo(const std::string& conninfo);

// The connection to make, or nullopt when only libpq can make it.
std::optional<WireTarget> wire_target(const std::string& conninfo, const core::Environment& env);

} // namespace bsup::drivers::postgres
