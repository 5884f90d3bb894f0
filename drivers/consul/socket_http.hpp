#pragma once

// Plain HTTP/1.1 over TCP or a unix socket, for the common case of an agent without TLS: a bsup
// call then loads no libcurl (and its TLS, HTTP/2, GSSAPI and LDAP libraries), which is most of
// its time and memory (docs/performance/consul.md). One keep-alive connection per command.

#include "core/clock.hpp"
#include "drivers/net/stream_socket.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace bsup::drivers::consul {

struct SocketReply {
    enum class Outcome { ok, reset, timeout, failed };
    Outcome outcome = Outcome::failed;
    long status = 0;
    std::string body;
    std::optional<std::uint64_t> index; // X-Consul-Index
    std::string error;                  // what failed, for messages
};

class SocketHttp {
  public:
    // `host` and `port` for TCP, or `unix_socket` when not empty.
    SocketHttp(std::string host, std::string port, std::string unix_socket);
    SocketHttp(const SocketHttp&) = delete;
    SocketHttp& operator=(const SocketHttp&) = delete;

    // One request and its answer, within `deadline`. `headers` are whole lines without CRLF.
    SocketReply request(const char* method, const std::string& target,
                        const std::vector<std::string>& headers, const std::string* body,
                        core::TimePoint deadline);

  private:
    SocketReply exchange(const std::string& request, core::TimePoint deadline, bool fresh);
    bool connect(core::TimePoint deadline, SocketReply& reply);

    std::string m_host;
    std::string m_port;
    std::string m_unix_socket;
    net::StreamSocket m_socket;
};

// Splits "http://host:port" (no path) into host and port; false for anything else.
bool split_http_url(const std::string& url, std::string& host, std::string& port);

} // namespace bsup::drivers::consul
