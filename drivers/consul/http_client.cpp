#include "drivers/consul/http_client.hpp"

#include "core/clock.hpp"
#include "core/errors.hpp"
#include "core/redact.hpp"
#include "drivers/consul/libcurl.hpp"

#include <algorithm>
#include <cctype>
#include <fmt/format.h>
#include <thread>

namespace bsup::drivers::consul {

namespace {

constexpr std::size_t k_max_body_in_message = 200;
constexpr core::Duration k_first_backoff = std::chrono::milliseconds(50);
constexpr core::Duration k_max_backoff = std::chrono::seconds(1);

const char* k_agent_hint = "is the agent running? (set CONSUL_HTTP_ADDR)";

std::string shorten(std::string text) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
        text.pop_back();
    }
    if (text.size() > k_max_body_in_message) {
        text = text.substr(0, k_max_body_in_message) + "...";
    }
    return core::redact(text);
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
    static_cast<Response*>(user)->body.append(data, size * count);
    return size * count;
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
    std::string_view line(data, size * count);
    constexpr std::string_view name = "x-consul-index:";
    if (line.size() > name.size()) {
        bool match = std::equal(name.begin(), name.end(), line.begin(), [](char a, char b) {
            return a == std::tolower(static_cast<unsigned char>(b));
        });
        if (match) {
            std::string value(line.substr(name.size()));
            try {
                static_cast<Response*>(user)->index = std::stoull(value);
            } catch (const std::exception&) {
                // A malformed index: treated as absent (the next blocking query starts over).
            }
        }
    }
    return size * count;
}

long ms(core::Duration d) {
    return static_cast<long>(std::max<long long>(d.count(), 1));
}

// A transient failure worth another try: the connection broke, or the answer did not come whole.
bool is_reset(CURLcode code) {
    return code == CURLE_SEND_ERROR || code == CURLE_RECV_ERROR || code == CURLE_GOT_NOTHING ||
           code == CURLE_PARTIAL_FILE;
}

// HTTP 5xx is retried (Consul answers 500 "No cluster leader" during an election), except the
// answers that will not change: a session Consul does not know.
bool is_retryable(const Response& r) {
    if (r.status < 500) {
        return false;
    }
    return r.body.find("invalid session") == std::string::npos &&
           r.body.find("Invalid session") == std::string::npos;
}

} // namespace

HttpClient::HttpClient(ConsulConfig config) : m_config(std::move(config)) {
    std::string host;
    std::string port;
    if (!m_config.unix_socket.empty()) {
        m_plain = std::make_unique<SocketHttp>("localhost", "80", m_config.unix_socket);
    } else if (m_config.connect_to.empty() && split_http_url(m_config.base_url, host, port)) {
        m_plain = std::make_unique<SocketHttp>(host, port, "");
    }
}

HttpClient::~HttpClient() {
    if (m_curl != nullptr || m_headers != nullptr || m_connect_to != nullptr) {
        const Libcurl& lib = libcurl();
        if (m_curl != nullptr) {
            lib.curl_easy_cleanup(static_cast<CURL*>(m_curl));
        }
        lib.curl_slist_free_all(static_cast<curl_slist*>(m_headers));
        lib.curl_slist_free_all(static_cast<curl_slist*>(m_connect_to));
    }
}

void* HttpClient::handle() {
    if (m_curl != nullptr) {
        return m_curl;
    }
    const Libcurl& lib = libcurl();
    std::unique_ptr<CURL, decltype(lib.curl_easy_cleanup)> curl(lib.curl_easy_init(),
                                                                lib.curl_easy_cleanup);
    if (!curl) {
        throw core::backend_error("cannot start a libcurl session (out of memory?)");
    }
    CURL* c = curl.get();
    lib.curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    lib.curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &on_body);
    lib.curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &on_header);
    lib.curl_easy_setopt(c, CURLOPT_USERAGENT, "bsup/" BSUP_VERSION);
    lib.curl_easy_setopt(c, CURLOPT_ERRORBUFFER, m_error);
    if (!m_config.unix_socket.empty()) {
        lib.curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, m_config.unix_socket.c_str());
    }
    if (!m_config.ca_file.empty()) {
        lib.curl_easy_setopt(c, CURLOPT_CAINFO, m_config.ca_file.c_str());
    }
    if (!m_config.ca_path.empty()) {
        lib.curl_easy_setopt(c, CURLOPT_CAPATH, m_config.ca_path.c_str());
    }
    if (!m_config.client_cert.empty()) {
        lib.curl_easy_setopt(c, CURLOPT_SSLCERT, m_config.client_cert.c_str());
    }
    if (!m_config.client_key.empty()) {
        lib.curl_easy_setopt(c, CURLOPT_SSLKEY, m_config.client_key.c_str());
    }
    if (!m_config.verify_tls) {
        lib.curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        lib.curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    curl_slist* headers = nullptr;
    auto append = [&](const std::string& line) {
        curl_slist* next = lib.curl_slist_append(headers, line.c_str());
        if (next == nullptr) {
            lib.curl_slist_free_all(headers);
            throw core::backend_error("cannot build an HTTP request (out of memory?)");
        }
        headers = next;
    };
    append("Expect:");
    if (!m_config.token.empty()) {
        append("X-Consul-Token: " + m_config.token);
    }
    if (!m_config.connect_to.empty()) {
        m_connect_to = lib.curl_slist_append(nullptr, m_config.connect_to.c_str());
        lib.curl_easy_setopt(c, CURLOPT_CONNECT_TO, static_cast<curl_slist*>(m_connect_to));
    }
    m_headers = headers;
    lib.curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    m_curl = curl.release();
    return m_curl;
}

std::string HttpClient::escape(const std::string& text) {
    constexpr std::string_view k_hex = "0123456789ABCDEF";
    std::string out;
    for (char ch : text) {
        auto c = static_cast<unsigned char>(ch);
        if (std::isalnum(c) != 0 || c == '-' || c == '.' || c == '_' || c == '~') {
            out += ch;
        } else {
            out += '%';
            out += k_hex[c >> 4];
            out += k_hex[c & 15];
        }
    }
    return out;
}

std::string HttpClient::target_of(const std::string& path) {
    std::string url = path;
    char sep = path.find('?') == std::string::npos ? '?' : '&';
    bool agent = path.rfind("/v1/agent/", 0) == 0;
    if (!m_config.datacenter.empty() && !agent) {
        url += sep + ("dc=" + escape(m_config.datacenter));
        sep = '&';
    }
    if (!m_config.ns.empty()) {
        url += sep + ("ns=" + escape(m_config.ns));
    }
    return url;
}

Response HttpClient::get(const std::string& path, core::Duration extra) {
    return perform("GET", path, nullptr, extra);
}

Response HttpClient::put(const std::string& path, const std::string& body) {
    return perform("PUT", path, &body, core::Duration(0));
}

std::vector<std::string> HttpClient::header_lines() const {
    std::vector<std::string> lines{"User-Agent: bsup/" BSUP_VERSION};
    if (!m_config.token.empty()) {
        lines.push_back("X-Consul-Token: " + m_config.token);
    }
    return lines;
}

SocketReply HttpClient::attempt_plain(const char* method, const std::string& target,
                                      const std::string* body, core::TimePoint deadline) {
    return m_plain->request(method, target, header_lines(), body, deadline);
}

SocketReply HttpClient::attempt_curl(const char* method, const std::string& target,
                                     const std::string* body, core::TimePoint deadline) {
    const Libcurl& lib = libcurl();
    CURL* c = static_cast<CURL*>(handle());
    const std::string url = m_config.base_url + target;
    lib.curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    if (body != nullptr) {
        lib.curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        lib.curl_easy_setopt(c, CURLOPT_POSTFIELDS, body->c_str());
        lib.curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
    } else {
        lib.curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
        lib.curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, static_cast<const char*>(nullptr));
    }
    core::Duration left = deadline - core::now();
    Response response;
    lib.curl_easy_setopt(c, CURLOPT_WRITEDATA, &response);
    lib.curl_easy_setopt(c, CURLOPT_HEADERDATA, &response);
    lib.curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, ms(left));
    lib.curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, ms(std::min(left, m_config.timeout)));
    m_error[0] = '\0';
    CURLcode code = lib.curl_easy_perform(c);
    SocketReply reply;
    if (code == CURLE_OK) {
        lib.curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply.status);
        reply.outcome = SocketReply::Outcome::ok;
        reply.body = std::move(response.body);
        reply.index = response.index;
        return reply;
    }
    reply.outcome = code == CURLE_OPERATION_TIMEDOUT ? SocketReply::Outcome::timeout
                    : is_reset(code)                 ? SocketReply::Outcome::reset
                                                     : SocketReply::Outcome::failed;
    reply.error = m_error[0] != '\0' ? m_error : lib.curl_easy_strerror(code);
    return reply;
}

Response HttpClient::perform(const char* method, const std::string& path, const std::string* body,
                             core::Duration extra) {
    using Outcome = SocketReply::Outcome;
    const std::string target = target_of(path);
    const std::string what = fmt::format("{} {}", method, path.substr(0, path.find('?')));
    const core::Duration budget = m_config.timeout + extra;
    const core::TimePoint deadline = core::now() + budget;
    core::Duration backoff = k_first_backoff;

    for (;;) {
        SocketReply reply = m_plain ? attempt_plain(method, target, body, deadline)
                                    : attempt_curl(method, target, body, deadline);
        Response response{reply.status, std::move(reply.body), reply.index};
        bool ok = reply.outcome == Outcome::ok;
        bool retry = (ok && is_retryable(response)) || reply.outcome == Outcome::reset;
        if (retry && core::now() + backoff < deadline) {
            std::this_thread::sleep_for(backoff);
            backoff = std::min(backoff * 2, k_max_backoff);
            continue;
        }
        if (reply.outcome == Outcome::timeout) {
            throw core::backend_error(fmt::format("consul at {} did not answer {} within {}",
                                                  m_config.display, what,
                                                  core::format_duration(budget)),
                                      std::string(k_agent_hint) + "; or raise --timeout");
        }
        if (!ok) {
            throw core::backend_error(fmt::format("cannot reach consul at {} ({})",
                                                  m_config.display, core::redact(reply.error)),
                                      k_agent_hint);
        }
        if (response.status == 403) {
            throw core::backend_error(
                fmt::format("consul at {} refused {}: permission denied ({})", m_config.display,
                            what, shorten(response.body)),
                m_config.token.empty()
                    ? "no ACL token was given: set CONSUL_HTTP_TOKEN_FILE, CONSUL_HTTP_TOKEN or "
                      "--token-file"
                    : fmt::format("the ACL token (from {}) is unknown to consul or lacks "
                                  "the permission: check the token and its policies",
                                  core::redact(m_config.token_source)));
        }
        if (retry) {
            unexpected(*this, what.c_str(), response);
        }
        return response;
    }
}

void unexpected(const HttpClient& http, const char* what, const Response& response) {
    throw core::backend_error(fmt::format("consul at {} answered {} with HTTP {}: {}",
                                          http.display(), what, response.status,
                                          shorten(response.body)),
                              response.status >= 500 ? "the cluster may have no leader; retry "
                                                       "later, or raise --timeout"
                                                     : "");
}

} // namespace bsup::drivers::consul
