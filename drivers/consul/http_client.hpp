#pragma once

// Consul's HTTP API: plain HTTP (TCP or a unix socket) over bsup's own small client, and HTTPS
// over libcurl, loaded only then; one keep-alive connection between the calls of a command.
// Every call is bounded by the connection's --timeout: HTTP 5xx (a leader election) and reset
// connections are retried with backoff within it. A refused connection, a timeout and HTTP 403
// throw a backend Error (exit 3) that says what to do; other answers go back to the caller.

#include "core/duration.hpp"
#include "drivers/consul/consul_config.hpp"
#include "drivers/consul/socket_http.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace bsup::drivers::consul {

struct Response {
    long status = 0;
    std::string body;
    std::optional<std::uint64_t> index; // X-Consul-Index
};

class HttpClient {
  public:
    explicit HttpClient(ConsulConfig config);
    ~HttpClient();
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;

    // `path` starts with /v1/ and may carry a query; dc= and ns= are added as configured.
    // `extra` lengthens the bound of this call (a blocking query's wait).
    Response get(const std::string& path, core::Duration extra = core::Duration(0));
    Response put(const std::string& path, const std::string& body = {});

    // Percent-encodes one path segment or query value.
    std::string escape(const std::string& text);

    const std::string& display() const { return m_config.display; }

  private:
    Response perform(const char* method, const std::string& path, const std::string* body,
                     core::Duration extra);
    std::string target_of(const std::string& path); // path and query
    std::vector<std::string> header_lines() const;

    // One attempt over the plain socket or over libcurl: the same outcomes either way.
    SocketReply attempt_plain(const char* method, const std::string& target,
                              const std::string* body, core::TimePoint deadline);
    SocketReply attempt_curl(const char* method, const std::string& target, const std::string* body,
                             core::TimePoint deadline);
    void* handle();

    ConsulConfig m_config;
    std::unique_ptr<SocketHttp> m_plain; // set when no TLS is needed: libcurl is never loaded
    void* m_curl = nullptr;              // CURL*
    void* m_headers = nullptr;           // curl_slist*
    void* m_connect_to = nullptr;        // curl_slist*
    char m_error[256] = {};              // CURLOPT_ERRORBUFFER (CURL_ERROR_SIZE)
};

// "GET /v1/kv/..." failed with `response`: the backend Error to throw.
[[noreturn]] void unexpected(const HttpClient& http, const char* what, const Response& response);

} // namespace bsup::drivers::consul
