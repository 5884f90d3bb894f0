#include "drivers/postgres/wire_connection.hpp"

#include "core/base64.hpp"
#include "drivers/postgres/digest.hpp"

#include <algorithm>
#include <chrono>
#include <sys/random.h>
#include <sys/socket.h>
#include <utility>

namespace bsup::drivers::postgres {

namespace {

// How long a cancel request may take, beyond the statement's own deadline.
constexpr auto k_cancel_time = std::chrono::seconds(1);

enum AuthRequest : std::int32_t {
    k_auth_ok = 0,
    k_auth_cleartext = 3,
    k_auth_md5 = 5,
    k_auth_sasl = 10,
    k_auth_sasl_continue = 11,
    k_auth_sasl_final = 12,
};

std::string random_nonce() {
    std::string raw(18, '\0'); // as libpq
    std::size_t got = 0;
    while (got < raw.size()) {
        ssize_t n = ::getrandom(raw.data() + got, raw.size() - got, 0);
        if (n > 0) {
            got += static_cast<std::size_t>(n);
        }
    }
    return core::base64_encode(raw);
}

// SASLprep leaves ASCII as it is; anything else libpq normalizes, so libpq does it.
bool is_ascii(const std::string& text) {
    return std::all_of(text.begin(), text.end(),
                       [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

std::string protocol_violation(const wire::ProtocolError& e) {
    return "the server's answer does not follow PostgreSQL's protocol: " + e.what;
}

} // namespace

WireConnection::WireConnection(WireTarget target, core::Duration timeout)
    : m_target(std::move(target)), m_timeout(timeout) {
    m_where = m_target.where;
    core::TimePoint deadline = core::now() + m_timeout;
    if (m_target.connect_timeout_s > 0) {
        deadline =
            std::min(deadline, core::now() + std::chrono::seconds(m_target.connect_timeout_s));
    }
    std::string error;
    net::Outcome outcome =
        m_socket.connect(m_target.host, m_target.port, m_target.unix_path, deadline, error);
    if (outcome == net::Outcome::timeout) {
        failure::connect_timeout(m_where, m_timeout);
    }
    if (outcome != net::Outcome::ok) {
        failure::cannot_connect(m_where, error);
    }
    try {
        start_up(deadline);
    } catch (const wire::ProtocolError& e) {
        failure::cannot_connect(m_where, protocol_violation(e));
    }
    m_started = true;
}

WireConnection::~WireConnection() {
    if (m_started && m_socket.is_open()) {
        std::string bye = wire::terminate(); // best effort, as libpq's PQfinish
        [[maybe_unused]] ssize_t ignored =
            ::send(m_socket.fd(), bye.data(), bye.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    }
}

void WireConnection::start_up(core::TimePoint deadline) {
    if (m_target.ask_ssl) {
        send(wire::ssl_request(), "connect", deadline);
        while (m_buffer.empty()) {
            if (!receive("connect", deadline)) {
                failure::connect_timeout(m_where, m_timeout);
            }
        }
        if (m_buffer != "N") {
            throw NeedsLibpq{}; // 'S': the server offers TLS, which libpq negotiates
        }
        m_buffer.clear();
    }
    send(wire::startup({{"user", m_target.user},
                        {"database", m_target.dbname},
                        {"application_name", m_target.application_name}}),
         "connect", deadline);
    for (;;) {
        wire::Message m = next("connect", deadline);
        wire::Reader reader(m.body);
        switch (m.type) {
        case 'R':
            authenticate(reader, deadline);
            break;
        case 'K':
            m_pid = reader.int32();
            m_secret = reader.int32();
            break;
        case 'Z':
            return;
        case 'E': {
            wire::ServerMessage e = wire::parse_server_message(m.body);
            failure::cannot_connect(m_where, failure::one_line(e.severity + ": " + e.message));
        }
        case 'S': // ParameterStatus
        case 'N': // NoticeResponse
            break;
        default: // NegotiateProtocolVersion, or anything newer than bsup
            throw NeedsLibpq{};
        }
    }
}

void WireConnection::authenticate(wire::Reader& request, core::TimePoint deadline) {
    const std::optional<std::string>& password = m_target.password;
    switch (request.int32()) {
    case k_auth_ok:
        return;
    case k_auth_cleartext:
        if (!password) {
            throw NeedsLibpq{}; // libpq looks in the password file
        }
        send(wire::Writer('p').cstring(*password).finish(), "connect", deadline);
        return;
    case k_auth_md5: {
        if (!password) {
            throw NeedsLibpq{};
        }
        std::string salt(request.bytes(4));
        std::string hash = "md5" + md5_hex(md5_hex(*password + m_target.user) + salt);
        send(wire::Writer('p').cstring(hash).finish(), "connect", deadline);
        return;
    }
    case k_auth_sasl: {
        bool scram = false;
        for (std::string_view name = request.cstring(); !name.empty(); name = request.cstring()) {
            scram = scram || name == "SCRAM-SHA-256";
        }
        if (!scram || !password || !is_ascii(*password)) {
            throw NeedsLibpq{};
        }
        m_scram.emplace(*password, random_nonce());
        std::string first = m_scram->client_first();
        send(wire::Writer('p')
                 .cstring("SCRAM-SHA-256")
                 .int32(static_cast<std::int32_t>(first.size()))
                 .bytes(first)
                 .finish(),
             "connect", deadline);
        return;
    }
    case k_auth_sasl_continue: {
        std::optional<std::string> final_message =
            m_scram ? m_scram->client_final(request.rest()) : std::nullopt;
        if (!final_message) {
            failure::cannot_connect(m_where, "the server's SCRAM-SHA-256 challenge is malformed");
        }
        send(wire::Writer('p').bytes(*final_message).finish(), "connect", deadline);
        return;
    }
    case k_auth_sasl_final:
        if (!m_scram || !m_scram->verify_server_final(request.rest())) {
            failure::cannot_connect(m_where, "the server did not prove that it knows the password "
                                             "(SCRAM-SHA-256 server signature)");
        }
        return;
    default: // Kerberos, SSPI, ...
        throw NeedsLibpq{};
    }
}

void WireConnection::send(const std::string& data, const std::string& what,
                          core::TimePoint deadline) {
    std::string error;
    net::Outcome outcome = m_socket.send_all(data, deadline, error);
    if (outcome == net::Outcome::ok) {
        return;
    }
    if (!m_started) {
        if (outcome == net::Outcome::timeout) {
            failure::connect_timeout(m_where, m_timeout);
        }
        failure::cannot_connect(m_where, error);
    }
    if (outcome == net::Outcome::timeout) {
        cancel();
        failure::statement_timeout(m_where, what, m_timeout);
    }
    failure::lost(m_where, what, error);
}

bool WireConnection::receive(const std::string& what, core::TimePoint deadline) {
    if (m_offset > 0) {
        m_buffer.erase(0, m_offset);
        m_offset = 0;
    }
    std::string error;
    net::Outcome outcome = m_socket.receive(m_buffer, deadline, error);
    if (outcome == net::Outcome::timeout) {
        return false;
    }
    if (outcome != net::Outcome::ok) {
        if (!m_started) {
            failure::cannot_connect(m_where, error);
        }
        failure::lost(m_where, what, error);
    }
    return true;
}

wire::Message WireConnection::next(const std::string& what, core::TimePoint deadline) {
    for (;;) {
        if (std::optional<wire::Message> m = wire::next_message(m_buffer, m_offset)) {
            if (m->type == 'A') {
                m_notifications.push_back(wire::parse_notification_payload(m->body));
                continue;
            }
            return *m;
        }
        if (!receive(what, deadline)) {
            if (!m_started) {
                failure::connect_timeout(m_where, m_timeout);
            }
            cancel();
            failure::statement_timeout(m_where, what, m_timeout);
        }
    }
}

Result WireConnection::answer(const std::string& what, core::TimePoint deadline) {
    std::vector<Result::Row> rows;
    std::optional<ServerError> error;
    for (;;) {
        wire::Message m = next(what, deadline);
        switch (m.type) {
        case 'D':
            rows.push_back(wire::parse_data_row(m.body));
            break;
        case 'E': {
            wire::ServerMessage e = wire::parse_server_message(m.body);
            if (e.severity == "FATAL" || e.severity == "PANIC") {
                failure::lost(m_where, what, failure::one_line(e.message));
            }
            if (!error) {
                error.emplace(failure::refused(m_where, what, e.sqlstate, e.message));
            }
            break;
        }
        case 'Z':
            if (error) {
                throw *error;
            }
            return Result(std::move(rows));
        default: // ParseComplete, BindComplete, CommandComplete, notices, parameter changes
            break;
        }
    }
}

Result WireConnection::execute(const std::string& name, bool parse, const char* sql,
                               const std::vector<Param>& params) {
    core::TimePoint deadline = core::now() + m_timeout;
    try {
        // One round trip: Parse (when needed), Bind, Execute, Sync.
        std::string messages = name.empty() || parse ? wire::parse(name, sql) : std::string();
        send(messages + wire::bind_execute(name, params), "send a statement", deadline);
        return answer("run a statement", deadline);
    } catch (const wire::ProtocolError& e) {
        failure::lost(m_where, "run a statement", protocol_violation(e));
    }
}

void WireConnection::parse(const std::string& name, const char* sql) {
    core::TimePoint deadline = core::now() + m_timeout;
    try {
        send(wire::parse(name, sql) + wire::sync(), "prepare a statement", deadline);
        answer("prepare a statement", deadline);
    } catch (const wire::ProtocolError& e) {
        failure::lost(m_where, "prepare a statement", protocol_violation(e));
    }
}

void WireConnection::script(const std::string& sql) {
    core::TimePoint deadline = core::now() + m_timeout;
    try {
        send(wire::simple_query(sql), "send a statement", deadline);
        answer("update bsup's schema", deadline);
    } catch (const wire::ProtocolError& e) {
        failure::lost(m_where, "update bsup's schema", protocol_violation(e));
    }
}

std::vector<std::string> WireConnection::notifications(core::TimePoint until) {
    const std::string what = "wait for a notification";
    try {
        for (;;) {
            while (std::optional<wire::Message> m = wire::next_message(m_buffer, m_offset)) {
                if (m->type == 'A') {
                    m_notifications.push_back(wire::parse_notification_payload(m->body));
                } else if (m->type == 'E') {
                    failure::lost(m_where, what,
                                  failure::one_line(wire::parse_server_message(m->body).message));
                }
            }
            if (!m_notifications.empty() || !receive(what, until)) {
                return std::exchange(m_notifications, {});
            }
        }
    } catch (const wire::ProtocolError& e) {
        failure::lost(m_where, what, protocol_violation(e));
    }
}

void WireConnection::cancel() {
    if (m_pid == 0) {
        return;
    }
    net::StreamSocket other;
    std::string ignored;
    core::TimePoint deadline = core::now() + k_cancel_time;
    if (other.connect(m_target.host, m_target.port, m_target.unix_path, deadline, ignored) ==
        net::Outcome::ok) {
        other.send_all(wire::cancel_request(m_pid, m_secret), deadline, ignored);
        // The server closes the connection when it has read the request.
        std::string rest;
        other.receive(rest, deadline, ignored);
    }
}

} // namespace bsup::drivers::postgres
