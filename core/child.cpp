#include "core/child.hpp"

#include "core/errors.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
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

Child::Child(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env) {
    if (argv.empty()) {
        throw usage_error("no command to run", "put it after '--': bsup run KEY -- migrate up");
    }
    // Everything the child needs is built before fork: only async-signal-safe calls after it.
    std::vector<char*> args;
    for (const std::string& a : argv) {
        args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    std::vector<std::string> env_strings;
    for (char** e = environ; *e != nullptr; ++e) {
        std::string_view entry(*e);
        bool replaced = false;
        for (const std::string& extra : extra_env) {
            std::string_view name = std::string_view(extra).substr(0, extra.find('=') + 1);
            replaced = replaced || entry.substr(0, name.size()) == name;
        }
        if (!replaced) {
            env_strings.emplace_back(entry);
        }
    }
    env_strings.insert(env_strings.end(), extra_env.begin(), extra_env.end());
    std::vector<char*> envp;
    for (std::string& e : env_strings) {
        envp.push_back(e.data());
    }
    envp.push_back(nullptr);

    int report[2];
    if (::pipe2(report, O_CLOEXEC) != 0) {
        throw Error(ExitCode::backend, "internal",
                    fmt::format("cannot create a pipe: {}", std::strerror(errno)));
    }
    m_pid = ::fork();
    if (m_pid < 0) {
        int saved = errno;
        ::close(report[0]);
        ::close(report[1]);
        throw Error(ExitCode::backend, "internal",
                    fmt::format("cannot start {}: {}", argv.front(), std::strerror(saved)));
    }
    if (m_pid == 0) {
        ::setpgid(0, 0);
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        for (int s : {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGCHLD}) {
            ::signal(s, SIG_DFL);
        }
        ::execvpe(args[0], args.data(), envp.data());
        int err = errno;
        ssize_t ignored = ::write(report[1], &err, sizeof err);
        (void)ignored;
        ::_exit(127);
    }
    ::setpgid(m_pid, m_pid); // also here, so that signal() works before the child ran setpgid
    ::close(report[1]);
    int err = 0;
    ssize_t n = 0;
    while ((n = ::read(report[0], &err, sizeof err)) < 0 && errno == EINTR) {
    }
    ::close(report[0]);
    if (n == sizeof err) {
        int status = 0;
        ::waitpid(m_pid, &status, 0);
        m_status = 127;
        // As env(1) and nohup(1) do: 127 when the program is not found, 126 when it cannot run.
        throw Error(static_cast<ExitCode>(err == ENOENT ? 127 : 126), "command_failed",
                    fmt::format("cannot run '{}': {}", argv.front(), std::strerror(err)),
                    "check the command's name and that it is in PATH");
    }
}

void Child::signal(int signal) const {
    if (!m_status) {
        ::kill(-m_pid, signal);
    }
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
