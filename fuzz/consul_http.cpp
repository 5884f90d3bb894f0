// drivers/consul/socket_http: bsup's own HTTP/1.1 client reading an answer (status line, headers,
// Content-Length, chunked bodies, X-Consul-Index). Its parser is not separable from the socket
// code, so the input is served as the answer by a server on a unix socket in a thread, which then
// closes the connection: every exchange ends at once, with an answer or a failure, and bsup must
// never hang, crash, or return a body longer than what was sent.
#include "drivers/consul/socket_http.hpp"

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>

namespace {

namespace fs = std::filesystem;

struct Server {
    fs::path folder;
    fs::path socket_path;
    std::mutex mutex;
    std::string answer;

    Server() {
        folder = fs::temp_directory_path() / ("bsup-fuzz-http-" + std::to_string(::getpid()));
        fs::create_directories(folder);
        socket_path = folder / "consul.sock";
        int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::string p = socket_path.string();
        if (fd < 0 || p.size() >= sizeof addr.sun_path) {
            std::abort();
        }
        p.copy(addr.sun_path, p.size());
        if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 ||
            ::listen(fd, 16) != 0) {
            std::abort();
        }
        std::thread([this, fd] { serve(fd); }).detach();
    }

    void serve(int listener) {
        for (;;) {
            int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
            if (fd < 0) {
                continue;
            }
            std::string request;
            char buf[4096];
            while (request.find("\r\n\r\n") == std::string::npos) {
                ssize_t n = ::recv(fd, buf, sizeof buf, 0);
                if (n <= 0) {
                    break;
                }
                request.append(buf, static_cast<std::size_t>(n));
            }
            std::string out;
            {
                std::lock_guard<std::mutex> lock(mutex);
                out = answer;
            }
            for (std::size_t sent = 0; sent < out.size();) {
                ssize_t n = ::send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
                if (n <= 0) {
                    break; // bsup stopped reading: it had what it wanted
                }
                sent += static_cast<std::size_t>(n);
            }
            ::close(fd);
        }
    }
};

Server& server() {
    static Server* s = [] {
        auto* created = new Server();
        std::atexit([] {
            std::error_code ignored;
            fs::remove_all(server().folder, ignored);
        });
        return created;
    }();
    return *s;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Server& s = server();
    {
        std::lock_guard<std::mutex> lock(s.mutex);
        s.answer.assign(reinterpret_cast<const char*>(data), size);
    }
    bsup::drivers::consul::SocketHttp http("", "", s.socket_path.string());
    auto deadline = bsup::core::now() + std::chrono::seconds(5);
    auto reply = http.request("GET", "/v1/kv/blacksmith/?recurse", {"Accept: application/json"},
                              nullptr, deadline);
    using Outcome = bsup::drivers::consul::SocketReply::Outcome;
    if (reply.outcome == Outcome::timeout) {
        std::abort(); // the server always closes: waiting out the deadline is a hang
    }
    if (reply.outcome == Outcome::ok && reply.body.size() > size) {
        std::abort();
    }
    return 0;
}
