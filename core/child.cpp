#include "core/child.hpp"

#include "core/errors.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fmt/format.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace bsup::core {

namespace {

int shell_status(int status) {
    if (WIFEXITED(status)) {
        return WEXITSTATUS(status);
    }
    if (WIFSIGNALED(status)) {
        return 128 + WTERMSIG(status);
    }
    return 1;
}

} // namespace

std::vector<std::string> environment_with(const std::vector<std::string>& extra) {
    std::vector<std::string> out;
    for (char** e = environ; *e != nullptr; ++e) {
        std::string_view entry(*e);
        bool replaced = false;
        for (const std::string& x : extra) {
            std::string_view name = std::string_view(x).substr(0, x.find('=') + 1);
            replaced = replaced || entry.substr(0, name.size()) == name;
        }
        if (!replaced) {
            out.emplace_back(entry);
        }
    }
    out.insert(out.end(), extra.begin(), extra.end());
    return out;
}

std::vector<char*> exec_array(const std::vector<std::string>& strings) {
    std::vector<char*> out;
    for (const std::string& s : strings) {
        out.push_back(const_cast<char*>(s.c_str())); // exec*() takes char*, never writes
    }
    out.push_back(nullptr);
    return out;
}

Child::Child(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env) {
    if (argv.empty()) {
        throw usage_error("no command to run", "put it after '--': bsup run KEY -- migrate up");
    }
    std::vector<char*> args = exec_array(argv);
    const std::vector<std::string> env_strings = environment_with(extra_env);
    std::vector<char*> envp = exec_array(env_strings);

    // posix_spawn (glibc: a vfork-like clone, no copy of bsup's memory) rather than fork + exec:
    // the command starts sooner, which is the last step of a hand-off. The child gets a process
    // group of its own (for signals to the whole group), an empty signal mask and the default
    // action for the signals bsup takes itself; an exec failure comes back as the result.
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigemptyset(&none);
    sigset_t defaults;
    sigemptyset(&defaults);
    for (int s : {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGCHLD}) {
        sigaddset(&defaults, s);
    }
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                        POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    int err = ::posix_spawnp(&m_pid, args[0], nullptr, &attr, args.data(), envp.data());
    posix_spawnattr_destroy(&attr);
    if (err != 0) {
        m_status = 127;
        // As env(1) and nohup(1) do: 127 when the program is not found, 126 when it cannot run.
        throw Error(static_cast<ExitCode>(err == ENOENT ? 127 : 126), "command_failed",
                    fmt::format("cannot run '{}': {}", argv.front(), std::strerror(err)),
                    "check the command's name and that it is in PATH");
    }
}

void Child::signal(int signal) const {
    // To the group even after the child itself ended: what it started may live on (a group's
    // ID is not reused while it has members).
    ::kill(-m_pid, signal);
}

bool Child::group_alive() const {
    return ::kill(-m_pid, 0) == 0;
}

std::optional<int> Child::reap() {
    if (!m_status) {
        int status = 0;
        pid_t r = ::waitpid(m_pid, &status, WNOHANG);
        if (r == m_pid) {
            m_status = shell_status(status);
        }
    }
    return m_status;
}

int Child::wait() {
    while (!m_status) {
        int status = 0;
        pid_t r = ::waitpid(m_pid, &status, 0);
        if (r == m_pid) {
            m_status = shell_status(status);
        } else if (r < 0 && errno != EINTR) {
            m_status = 1;
        }
    }
    return *m_status;
}

} // namespace bsup::core
