#pragma once

// bsup's own PostgreSQL client: protocol 3.0 over plain TCP or a unix socket, with trust,
// password, md5 and SCRAM-SHA-256 authentication. It loads no library, so a bsup call costs what
// its one round trip costs (libpq and its TLS, Kerberos and LDAP libraries take longer to load
// than the connection itself: docs/performance/postgres.md). When the server offers TLS or asks
// for something else, it gives up before sending anything that matters, and libpq connects.

#include "drivers/net/stream_socket.hpp"
#include "drivers/postgres/connection.hpp"
#include "drivers/postgres/conninfo.hpp"
#include "drivers/postgres/scram.hpp"
#include "drivers/postgres/wire_protocol.hpp"

namespace bsup::drivers::postgres {

class WireConnection final : public Connection {
  public:
    // Thrown by the constructor when only libpq can make this connection.
    struct NeedsLibpq {};

    WireConnection(WireTarget target, core::Duration timeout);
    ~WireConnection() override;

    void script(const std::string& sql) override;
    std::vector<std::string> notifications(core::TimePoint until) override;
    int announced_pid() const override { return m_pid; }

  protected:
    Result execute(const std::string& name, bool parse, const char* sql,
                   const std::vector<Param>& params) override;
    void parse(const std::string& name, const char* sql) override;

  private:
    void start_up(core::TimePoint deadline);
    void authenticate(wire::Reader& request, core::TimePoint deadline);
    void send(const std::string& data, const std::string& what, core::TimePoint deadline);
    // Reads more of the server's stream; false when `deadline` passes first. Throws when the
    // connection is lost.
    bool receive(const std::string& what, core::TimePoint deadline);
    // The next message, reading as needed; on timeout, cancels the statement (once started up)
    // and throws. Notifications met on the way are kept for notifications().
    wire::Message next(const std::string& what, core::TimePoint deadline);
    // Reads a statement's answer up to ReadyForQuery; throws the server's error, if any.
    Result answer(const std::string& what, core::TimePoint deadline);
    void cancel();

    WireTarget m_target;
    core::Duration m_timeout;
    net::StreamSocket m_socket;
    std::string m_buffer;
    std::size_t m_offset = 0;
    int m_pid = 0;
    std::int32_t m_secret = 0;
    std::vector<std::string> m_notifications;
    std::optional<ScramClient> m_scram;
    bool m_started = false; // start-up done: failures are "lost", no longer "cannot connect"
};

} // namespace bsup::drivers::postgres
