#include "tests/unit/support.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <fcntl.h>
#include <stdexcept>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace bsup::tests {

core::Environment fake_env(std::map<std::string, std::string> vars) {
    return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
        auto it = vars.find(name);
        if (it == vars.end() || it->second.empty()) {
            return std::nullopt;
        }
        return it->second;
    };
}

std::string read_bytes(const std::filesystem::path& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        throw std::runtime_error("cannot read " + path.string());
    }
    std::string data;
    char buf[4096];
    ssize_t n = 0;
    while ((n = ::read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
        if (n > 0) {
            data.append(buf, static_cast<std::size_t>(n));
        }
    }
    ::close(fd);
    if (n < 0) {
        throw std::runtime_error("cannot read " + path.string());
    }
    return data;
}

void write_bytes(const std::filesystem::path& path, const std::string& data, int mode) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        throw std::runtime_error("cannot create " + path.string());
    }
    bool ok = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size());
    ok = ::fchmod(fd, static_cast<mode_t>(mode)) == 0 && ok;
    ::close(fd);
    if (!ok) {
        throw std::runtime_error("cannot write " + path.string());
    }
}

unsigned mode_of(const std::filesystem::path& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        throw std::runtime_error("cannot stat " + path.string());
    }
    return st.st_mode & 07777;
}

std::vector<std::string> list_folder(const std::filesystem::path& folder) {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(folder)) {
        names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
}

bool eventually(const std::function<bool()>& done, std::chrono::milliseconds limit) {
    auto until = std::chrono::steady_clock::now() + limit;
    for (;;) {
        if (done()) {
            return true;
        }
        if (std::chrono::steady_clock::now() >= until) {
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
}

std::vector<int> run_processes(int count, const std::function<int(int)>& body) {
    int barrier[2];
    if (::pipe(barrier) != 0) {
        throw std::runtime_error("cannot create a pipe");
    }
    std::vector<pid_t> pids;
    for (int i = 0; i < count; ++i) {
        pid_t pid = ::fork();
        if (pid < 0) {
            break; // reported below as a missing child
        }
        if (pid == 0) {
            ::close(barrier[1]);
            char c = 0;
            while (::read(barrier[0], &c, 1) < 0 && errno == EINTR) {
            }
            int code = 99;
            try {
                code = body(i);
            } catch (const std::exception& e) {
                std::fprintf(stderr, "process %d of %d failed: %s\n", i, count, e.what());
            } catch (...) {
                std::fprintf(stderr, "process %d of %d failed\n", i, count);
            }
            ::_exit(code);
        }
        pids.push_back(pid);
    }
    ::close(barrier[0]);
    ::close(barrier[1]); // every child reads EOF now: they start together
    std::vector<int> codes;
    for (pid_t pid : pids) {
        int status = 0;
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        codes.push_back(WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status));
    }
    if (static_cast<int>(pids.size()) != count) {
        throw std::runtime_error("cannot fork enough processes");
    }
    return codes;
}

} // namespace bsup::tests
