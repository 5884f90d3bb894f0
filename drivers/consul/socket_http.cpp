#include "drivers/consul/socket_http.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>

namespace bsup::drivers::consul {

namespace {

using Outcome = SocketReply::Outcome;

bool iequals_prefix(std::string_view line, std::string_view name) {
    return line.size() >= name.size() &&
           std::equal(name.begin(), name.end(), line.begin(), [](char a, char b) {
               return a == std::tolower(static_cast<unsigned char>(b));
           });
}

std::string trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\r' || s.back() == '\t')) {
        s.remove_suffix(1);
    }
    return std::string(s);
}

// Decodes a chunked body; false while it is not complete.
bool dechunk(const std::string& raw, std::string& out) {
    out.clear();
    std::size_t pos = 0;
    for (;;) {
        std::size_t eol = raw.find("\r\n", pos);
        if (eol == std::string::npos) {
            return false;
        }
        std::size_t size = std::strtoull(raw.c_str() + pos, nullptr, 16);
        pos = eol + 2;
        if (size == 0) {
            return raw.find("\r\n", pos) != std::string::npos; // the (empty) trailer
        }
        // Compared without overflow: a size near 2^64 (or "-6", which strtoull negates) would
        // wrap pos around and loop forever (found by fuzz/consul_http.cpp).
        if (size > raw.size() - pos || raw.size() - pos - size < 2) {
            return false;
        }
        out.append(raw, pos, size);
        pos += size + 2;
    }
}

} // namespace

bool split_http_url(const std::string& url, std::string& host, std::string& port) {
    constexpr std::string_view scheme = "http://";
    if (url.rfind(scheme, 0) != 0) {
        return false;
    }
    std::string authority = url.substr(scheme.size());
    if (authority.empty() || authority.find_first_of("/@?#") != std::string::npos) {
        return false;
    }
    std::size_t colon = authority.rfind(':');
    std::size_t bracket = authority.rfind(']');
    if (colon == std::string::npos || (bracket != std::string::npos && colon < bracket)) {
        host = authority;
        port = "80";
    } else {
        host = authority.substr(0, colon);
        port = authority.substr(colon + 1);
    }
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    return !host.empty() && !port.empty();
}

SocketHttp::SocketHttp(std::string host, std::string port, std::string unix_socket)
    : m_host(std::move(host)), m_port(std::move(port)), m_unix_socket(std::move(unix_socket)) {}

bool SocketHttp::connect(core::TimePoint deadline, SocketReply& reply) {
    net::Outcome outcome = m_socket.connect(m_host, m_port, m_unix_socket, deadline, reply.error);
    reply.outcome = outcome == net::Outcome::timeout ? Outcome::timeout : Outcome::failed;
    return outcome == net::Outcome::ok;
}

SocketReply SocketHttp::request(const char* method, const std::string& target,
                                const std::vector<std::string>& headers, const std::string* body,
                                core::TimePoint deadline) {
    std::string text = std::string(method) + " " + target + " HTTP/1.1\r\nHost: " +
                       (m_unix_socket.empty() ? m_host + ":" + m_port : "localhost") + "\r\n";
    for (const std::string& h : headers) {
        text += h + "\r\n";
    }
    if (body != nullptr) {
        text += "Content-Length: " + std::to_string(body->size()) + "\r\n\r\n" + *body;
    } else {
        text += "\r\n";
    }
    bool reused = m_socket.is_open();
    SocketReply reply = exchange(text, deadline, !reused);
    if (reused && reply.outcome == Outcome::reset) {
        // The agent closed the idle keep-alive connection: once more on a new one.
        reply = exchange(text, deadline, true);
    }
    return reply;
}

SocketReply SocketHttp::exchange(const std::string& request, core::TimePoint deadline, bool fresh) {
    SocketReply reply;
    if (fresh) {
        m_socket.close();
        if (!connect(deadline, reply)) {
            return reply;
        }
    }
    auto broken = [&](Outcome outcome, std::string error) {
        m_socket.close();
        reply.outcome = outcome;
        reply.error = std::move(error);
        return reply;
    };
    std::string error;
    if (net::Outcome sent = m_socket.send_all(request, deadline, error); sent != net::Outcome::ok) {
        return broken(sent == net::Outcome::timeout ? Outcome::timeout : Outcome::reset, error);
    }

    std::string raw;
    std::size_t header_end = std::string::npos;
    std::optional<std::size_t> length;
    bool chunked = false;
    bool close_after = false;
    for (;;) {
        if (header_end != std::string::npos) {
            std::size_t have = raw.size() - header_end;
            if (length && have >= *length) {
                reply.body = raw.substr(header_end, *length);
                break;
            }
            if (chunked && dechunk(raw.substr(header_end), reply.body)) {
                break;
            }
        }
        net::Outcome got = m_socket.receive(raw, deadline, error);
        if (got == net::Outcome::timeout) {
            return broken(Outcome::timeout, "timed out waiting for the answer");
        }
        if (got == net::Outcome::closed && header_end != std::string::npos && !length && !chunked) {
            reply.body = raw.substr(header_end); // body until close
            close_after = true;
            break;
        }
        if (got != net::Outcome::ok) {
            return broken(Outcome::reset, error);
        }
        if (header_end == std::string::npos) {
            std::size_t end = raw.find("\r\n\r\n");
            if (end == std::string::npos) {
                continue;
            }
            header_end = end + 4;
            std::string_view head(raw.data(), end);
            std::size_t eol = head.find("\r\n");
            std::string_view status_line = head.substr(0, eol);
            if (status_line.substr(0, 5) != "HTTP/" || status_line.size() < 12) {
                return broken(Outcome::failed, "not an HTTP answer");
            }
            reply.status = std::strtol(std::string(status_line.substr(9, 3)).c_str(), nullptr, 10);
            while (eol != std::string_view::npos) {
                std::size_t start = eol + 2;
                eol = head.find("\r\n", start);
                std::string_view line = head.substr(
                    start, eol == std::string_view::npos ? std::string_view::npos : eol - start);
                std::string value = trim(line.substr(std::min(line.find(':') + 1, line.size())));
                if (iequals_prefix(line, "content-length:")) {
                    length = std::strtoull(value.c_str(), nullptr, 10);
                } else if (iequals_prefix(line, "transfer-encoding:")) {
                    chunked = value.find("chunked") != std::string::npos;
                } else if (iequals_prefix(line, "connection:")) {
                    close_after = value == "close" || value == "Close";
                } else if (iequals_prefix(line, "x-consul-index:")) {
                    char* end_of_number = nullptr;
                    std::uint64_t index = std::strtoull(value.c_str(), &end_of_number, 10);
                    if (end_of_number != value.c_str()) {
                        reply.index = index;
                    }
                }
            }
            if (reply.status == 204 || reply.status == 304) {
                length = 0;
            }
        }
    }
    if (close_after) {
        m_socket.close();
    }
    reply.outcome = Outcome::ok;
    return reply;
}

} // namespace bsup::drivers::consul
