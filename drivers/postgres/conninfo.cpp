#include "drivers/postgres/conninfo.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <pwd.h>
#include <string_view>
#include <sys/stat.h>
#include <unistd.h>

namespace bsup::drivers::postgres {

namespace {

using Values = std::map<std::string, std::string>;

// Keywords whose every value the wire client honours (others are checked one by one below).
constexpr std::array<std::string_view, 12> k_plain_keywords{"host",
                                                            "port",
                                                            "user",
                                                            "password",
                                                            "dbname",
                                                            "application_name",
                                                            "fallback_application_name",
                                                            "connect_timeout",
                                                            "keepalives",
                                                            "keepalives_idle",
                                                            "keepalives_interval",
                                                            "keepalives_count"};

// Variables that make libpq connect differently from what the wire client would do.
constexpr std::array<const char*, 14> k_libpq_only_variables{
    "PGHOSTADDR",         "PGSERVICE",           "PGSERVICEFILE", "PGOPTIONS",
    "PGCLIENTENCODING",   "PGDATESTYLE",         "PGTZ",          "PGGEQO",
    "PGREQUIRESSL",       "PGREQUIREAUTH",       "PGREQUIREPEER", "PGSSLNEGOTIATION",
    "PGLOADBALANCEHOSTS", "PGTARGETSESSIONATTRS"};

int hex_value(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

std::optional<std::string> percent_decode(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '%') {
            out += text[i];
            continue;
        }
        if (i + 2 >= text.size()) {
            return std::nullopt;
        }
        int hi = hex_value(text[i + 1]);
        int lo = hex_value(text[i + 2]);
        if (hi < 0 || lo < 0) {
            return std::nullopt;
        }
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
    }
    return out;
}

bool set_decoded(Values& values, const std::string& key, std::string_view raw) {
    std::optional<std::string> decoded = percent_decode(raw);
    if (!decoded) {
        return false;
    }
    values[key] = *decoded;
    return true;
}

std::optional<Values> parse_uri(std::string_view uri) {
    Values values;
    uri.remove_prefix(uri.find("://") + 3);
    std::size_t end = uri.find_first_of("/?");
    std::string_view authority = uri.substr(0, end);
    std::string_view rest = end == std::string_view::npos ? std::string_view() : uri.substr(end);
    if (std::size_t at = authority.rfind('@'); at != std::string_view::npos) {
        std::string_view userinfo = authority.substr(0, at);
        authority.remove_prefix(at + 1);
        std::size_t colon = userinfo.find(':');
        if (!set_decoded(values, "user", userinfo.substr(0, colon)) ||
            (colon != std::string_view::npos &&
             !set_decoded(values, "password", userinfo.substr(colon + 1)))) {
            return std::nullopt;
        }
        if (values["user"].empty()) {
            values.erase("user");
        }
    }
    std::string_view host = authority;
    std::string_view port;
    if (!authority.empty() && authority.front() == '[') {
        std::size_t close = authority.find(']');
        if (close == std::string_view::npos) {
            return std::nullopt;
        }
        host = authority.substr(1, close - 1);
        std::string_view after = authority.substr(close + 1);
        if (!after.empty() && after.front() != ':') {
            return std::nullopt;
        }
        port = after.empty() ? after : after.substr(1);
    } else if (std::size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
        host = authority.substr(0, colon);
        port = authority.substr(colon + 1);
    }
    if ((!host.empty() && !set_decoded(values, "host", host)) ||
        (!port.empty() && !set_decoded(values, "port", port))) {
        return std::nullopt;
    }
    if (!rest.empty() && rest.front() == '/') {
        std::size_t q = rest.find('?');
        std::string_view db = rest.substr(1, q == std::string_view::npos ? q : q - 1);
        if (!db.empty() && !set_decoded(values, "dbname", db)) {
            return std::nullopt;
        }
        rest = q == std::string_view::npos ? std::string_view() : rest.substr(q);
    }
    if (!rest.empty()) {
        rest.remove_prefix(1); // '?'
        while (!rest.empty()) {
            std::size_t amp = rest.find('&');
            std::string_view pair = rest.substr(0, amp);
            std::size_t eq = pair.find('=');
            if (eq == std::string_view::npos) {
                return std::nullopt;
            }
            std::optional<std::string> key = percent_decode(pair.substr(0, eq));
            if (!key || !set_decoded(values, *key, pair.substr(eq + 1))) {
                return std::nullopt;
            }
            rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
        }
    }
    return values;
}

std::optional<Values> parse_pairs(std::string_view text) {
    Values values;
    std::size_t i = 0;
    auto skip_space = [&] {
        while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) {
            ++i;
        }
    };
    for (;;) {
        skip_space();
        if (i == text.size()) {
            return values;
        }
        std::size_t key_start = i;
        while (i < text.size() && text[i] != '=' &&
               !std::isspace(static_cast<unsigned char>(text[i]))) {
            ++i;
        }
        std::string key(text.substr(key_start, i - key_start));
        skip_space();
        if (key.empty() || i == text.size() || text[i] != '=') {
            return std::nullopt;
        }
        ++i;
        skip_space();
        std::string value;
        if (i < text.size() && text[i] == '\'') {
            ++i;
            for (;; ++i) {
                if (i == text.size()) {
                    return std::nullopt; // unterminated quote
                }
                if (text[i] == '\\' && i + 1 < text.size()) {
                    value += text[++i];
                } else if (text[i] == '\'') {
                    ++i;
                    break;
                } else {
                    value += text[i];
                }
            }
        } else {
            for (; i < text.size() && !std::isspace(static_cast<unsigned char>(text[i])); ++i) {
                if (text[i] == '\\' && i + 1 < text.size()) {
                    ++i;
                }
                value += text[i];
            }
        }
        values[key] = value;
    }
}

bool is_plain_keyword(const std::string& key) {
    for (std::string_view k : k_plain_keywords) {
        if (k == key) {
            return true;
        }
    }
    return false;
}

bool has_kerberos_credentials(const core::Environment& env) {
    if (env("KRB5CCNAME")) {
        return true;
    }
    struct stat st {};
    std::string cache = "/tmp/krb5cc_" + std::to_string(::geteuid());
    return ::stat(cache.c_str(), &st) == 0;
}

std::string os_user_name() {
    passwd* pw = ::getpwuid(::geteuid());
    return pw != nullptr && pw->pw_name != nullptr ? pw->pw_name : "";
}

} // namespace

std::optional<Values> parse_conninfo(const std::string& conninfo) {
    if (conninfo.rfind("postgresql://", 0) == 0 || conninfo.rfind("postgres://", 0) == 0) {
        return parse_uri(conninfo);
    }
    if (conninfo.find('=') == std::string::npos) {
        Values values; // a bare database name, as libpq reads a dbname without '='
        if (!conninfo.empty()) {
            values["dbname"] = conninfo;
        }
        return values;
    }
    return parse_pairs(conninfo);
}

std::optional<WireTarget> wire_target(const std::string& conninfo, const core::Environment& env) {
    std::optional<Values> parsed = parse_conninfo(conninfo);
    if (!parsed) {
        return std::nullopt;
    }
    for (const char* name : k_libpq_only_variables) {
        if (env(name)) {
            return std::nullopt;
        }
    }
    Values& values = *parsed;
    auto value = [&](const char* key, const char* variable) -> std::optional<std::string> {
        auto it = values.find(key);
        if (it != values.end() && !it->second.empty()) {
            return it->second;
        }
        return variable != nullptr ? env(variable) : std::nullopt;
    };
    for (const auto& [key, v] : values) {
        bool honoured = is_plain_keyword(key) ||
                        (key == "sslmode" && (v == "disable" || v == "prefer")) ||
                        (key == "gssencmode" && (v == "disable" || v == "prefer")) ||
                        (key == "channel_binding" && (v == "disable" || v == "prefer")) ||
                        (key == "target_session_attrs" && v == "any") ||
                        (key == "load_balance_hosts" && v == "disable");
        if (!honoured) {
            return std::nullopt;
        }
    }
    std::string sslmode = value("sslmode", "PGSSLMODE").value_or("prefer");
    std::string gssencmode = value("gssencmode", "PGGSSENCMODE").value_or("prefer");
    std::string channel_binding = value("channel_binding", "PGCHANNELBINDING").value_or("prefer");
    if ((sslmode != "disable" && sslmode != "prefer") ||
        (gssencmode != "disable" && gssencmode != "prefer") ||
        (channel_binding != "disable" && channel_binding != "prefer")) {
        return std::nullopt;
    }

    WireTarget target;
    std::string host = value("host", "PGHOST").value_or("/var/run/postgresql");
    target.port = value("port", "PGPORT").value_or("5432");
    if (host.find(',') != std::string::npos || target.port.find(',') != std::string::npos ||
        host.front() == '@') {
        return std::nullopt; // several hosts, or an abstract unix socket
    }
    if (host.front() == '/') {
        target.unix_path = host + "/.s.PGSQL." + target.port;
    } else {
        target.host = host;
        // libpq tries GSSAPI encryption first when Kerberos credentials are at hand.
        if (gssencmode == "prefer" && has_kerberos_credentials(env)) {
            return std::nullopt;
        }
        target.ask_ssl = sslmode == "prefer";
    }
    target.where = host + ":" + target.port;
    target.user = value("user", "PGUSER").value_or(os_user_name());
    target.password = value("password", "PGPASSWORD");
    target.dbname = value("dbname", "PGDATABASE").value_or(target.user);
    target.application_name =
        value("application_name", "PGAPPNAME")
            .value_or(value("fallback_application_name", nullptr).value_or("bsup"));
    if (std::optional<std::string> t = value("connect_timeout", "PGCONNECT_TIMEOUT")) {
        int seconds = 0;
        auto [end, ec] = std::from_chars(t->data(), t->data() + t->size(), seconds);
        if (ec != std::errc() || end != t->data() + t->size()) {
            return std::nullopt; // libpq says what is wrong with it
        }
        // 0 or less waits indefinitely; libpq's minimum is 2 seconds.
        target.connect_timeout_s = seconds <= 0 ? 0 : std::max(2, seconds);
    }
    if (target.user.empty()) {
        return std::nullopt;
    }
    return target;
}

} // namespace bsup::drivers::postgres
