#include "drivers/net/stream_socket.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <utility>

namespace bsup::drivers::net {

int ms_until(core::TimePoint deadline) {
    auto left = (deadline - core::now()).count();
    return static_cast<int>(std::clamp<long long>(left, 0, 1 << 30));
}

bool wait_ready(int fd, short events, core::TimePoint deadline) {
    for (;;) {
        pollfd p{fd, events, 0};
        int n = ::poll(&p, 1, ms_until(deadline));
        if (n > 0) {
            return true;
        }
        if (n == 0 || errno != EINTR) {
            return false;
        }
    }
}

StreamSocket::~StreamSocket() {
    close();
}

StreamSocket::StreamSocket(StreamSocket&& other) noexcept : m_fd(std::exchange(other.m_fd, -1)) {}

StreamSocket& StreamSocket::operator=(StreamSocket&& other) noexcept {
    if (this != &other) {
        close();
        m_fd = std::exchange(other.m_fd, -1);
    }
    return *this;
}

void StreamSocket::close() {
    if (m_fd >= 0) {
        ::close(m_fd);
        m_fd = -1;
    }
}

Outcome StreamSocket::connect(const std::string& host, const std::string& port,
                              const std::string& unix_path, core::TimePoint deadline,
                              std::string& error) {
    close();
    auto attempt = [&](int family, const sockaddr* addr, socklen_t len) {
        int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            error = std::strerror(errno);
            return Outcome::failed;
        }
        if (::connect(fd, addr, len) != 0 && errno != EINPROGRESS && errno != EAGAIN) {
            error = std::strerror(errno);
            ::close(fd);
            return Outcome::failed;
        }
        if (!wait_ready(fd, POLLOUT, deadline)) {
            error = "connection timed out";
            ::close(fd);
            return Outcome::timeout;
        }
        int err = 0;
        socklen_t err_len = sizeof err;
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &err_len);
        if (err != 0) {
            error = std::strerror(err);
            ::close(fd);
            return Outcome::failed;
        }
        if (family != AF_UNIX) {
            int one = 1;
            ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        }
        m_fd = fd;
        return Outcome::ok;
    };
    if (!unix_path.empty()) {
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        if (unix_path.size() >= sizeof addr.sun_path) {
            error = "socket path too long";
            return Outcome::failed;
        }
        std::memcpy(addr.sun_path, unix_path.c_str(), unix_path.size() + 1);
        return attempt(AF_UNIX, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
    }
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found);
    if (rc != 0) {
        error = ::gai_strerror(rc);
        return Outcome::failed;
    }
    std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list(found, &::freeaddrinfo);
    Outcome outcome = Outcome::failed;
    for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
        outcome = attempt(a->ai_family, a->ai_addr, a->ai_addrlen);
        if (outcome != Outcome::failed) {
            return outcome;
        }
    }
    return outcome;
}

Outcome StreamSocket::send_all(std::string_view data, core::TimePoint deadline,
                               std::string& error) {
    for (std::size_t sent = 0; sent < data.size();) {
        ssize_t n = ::send(m_fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
        if (n > 0) {
            sent += static_cast<std::size_t>(n);
        } else if (errno == EAGAIN) {
            if (!wait_ready(m_fd, POLLOUT, deadline)) {
                error = "timed out sending";
                return Outcome::timeout;
            }
        } else if (errno != EINTR) {
            error = std::strerror(errno);
            return Outcome::closed;
        }
    }
    return Outcome::ok;
}

Outcome StreamSocket::receive(std::string& buffer, core::TimePoint deadline, std::string& error) {
    char chunk[16384];
    for (;;) {
        ssize_t n = ::recv(m_fd, chunk, sizeof chunk, 0);
        if (n > 0) {
            buffer.append(chunk, static_cast<std::size_t>(n));
            return Outcome::ok;
        }
        if (n == 0) {
            error = "the connection was closed";
            return Outcome::closed;
        }
        if (errno == EAGAIN) {
            if (!wait_ready(m_fd, POLLIN, deadline)) {
                error = "timed out waiting for the answer";
                return Outcome::timeout;
            }
        } else if (errno != EINTR) {
            error = std::strerror(errno);
            return Outcome::closed;
        }
    }
}

} // namespace bsup::drivers::net
