#pragma once

// The connection through libpq (loaded on first use), for what bsup's own client leaves to it:
// TLS, Kerberos, service files, several hosts, password files.

#include "drivers/postgres/connection.hpp"
#include "drivers/postgres/libpq.hpp"

namespace bsup::drivers::postgres {

class LibpqConnection final : public Connection {
  public:
    LibpqConnection(const std::string& conninfo, core::Duration timeout);

    void script(const std::string& sql) override;
    std::vector<std::string> notifications(core::TimePoint until) override;
    int announced_pid() const override;

  protected:
    Result execute(const std::string& name, bool parse, const char* sql,
                   const std::vector<Param>& params) override;
    void parse(const std::string& name, const char* sql) override;

  private:
    void connect(const std::string& conninfo);
    // Waits for the socket to be readable (or writable) until the deadline; false on timeout.
    bool wait_socket(bool for_write, core::TimePoint deadline) const;
    std::optional<Result> collect(const std::string& what, core::TimePoint deadline);
    [[noreturn]] void send_failed(const std::string& what);
    [[noreturn]] void timed_out(const std::string& what);
    std::string connection_error() const;

    core::Duration m_timeout;
    std::unique_ptr<PGconn, void (*)(PGconn*)> m_conn;
};

} // namespace bsup::drivers::postgres
