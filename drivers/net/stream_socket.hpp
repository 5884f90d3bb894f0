#pragma once

// A non-blocking stream socket to a TCP host and port or a unix socket, every step bounded by a
// deadline: what bsup's own HTTP client (Consul) and PostgreSQL client share.

#include "core/clock.hpp"

#include <string>
#include <string_view>

namespace bsup::drivers::net {

enum class Outcome { ok, timeout, closed, failed };

// Milliseconds from now until `deadline`, for poll(2): 0 when it has passed.
int ms_until(core::TimePoint deadline);

// Waits until `fd` is ready for `events` (POLLIN, POLLOUT); false when the deadline passes.
bool wait_ready(int fd, short events, core::TimePoint deadline);

class StreamSocket {
  public:
    StreamSocket() = default;
    ~StreamSocket();
    StreamSocket(StreamSocket&& other) noexcept;
    StreamSocket& operator=(StreamSocket&& other) noexcept;
    StreamSocket(const StreamSocket&) = delete;
    StreamSocket& operator=(const StreamSocket&) = delete;

    // Connects to `unix_path` when not empty, else to each address of host:port in turn (TCP,
    // no Nagle delay). On failure `error` says why (strerror, or the resolver's message).
    Outcome connect(const std::string& host, const std::string& port, const std::string& unix_path,
                    core::TimePoint deadline, std::string& error);

    Outcome send_all(std::string_view data, core::TimePoint deadline, std::string& error);
    // Appends what arrives (at least one byte) to `buffer`.
    Outcome receive(std::string& buffer, core::TimePoint deadline, std::string& error);

    bool is_open() const { return m_fd >= 0; }
    int fd() const { return m_fd; }
    void close();

  private:
    int m_fd = -1;
};

} // namespace bsup::drivers::net
