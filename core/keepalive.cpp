#include "core/keepalive.hpp"

#include "core/child.hpp"
#include "core/errors.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <fstream>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace bsup::core {

namespace {

bool process_alive(pid_t pid) {
    return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM);
}

// Writes our PID to the keepalive file, and removes it when the heartbeat stops (if it is still
// ours).
class PidFile {
  public:
    explicit PidFile(std::filesystem::path path) : m_path(std::move(path)) {
        std::filesystem::path tmp = m_path;
        tmp += fmt::format(".tmp.{}", ::getpid());
        std::ofstream(tmp) << ::getpid() << "\n";
        std::filesystem::rename(tmp, m_path);
    }
    PidFile(const PidFile&) = delete;
    PidFile& operator=(const PidFile&) = delete;
    ~PidFile() {
        std::ifstream in(m_path);
        pid_t pid = 0;
        if (in >> pid && pid == ::getpid()) {
            std::error_code ignored;
            std::filesystem::remove(m_path, ignored);
        }
    }

  private:
    std::filesystem::path m_path;
};

bool holds_a_key(Client& client, const std::string& session_id) {
    for (const Semaphore& s : client.held()) {
        if (s.session_id == session_id) {
            return true;
        }
    }
    return false;
}

} // namespace

std::filesystem::path keepalive_pid_path(const std::filesystem::path& state_path) {
    std::filesystem::path p = state_path;
    p += ".keepalive";
    return p;
}

std::optional<pid_t> live_keepalive(const std::filesystem::path& state_path) {
    std::ifstream in(keepalive_pid_path(state_path));
    pid_t pid = 0;
    if (in >> pid && process_alive(pid)) {
        return pid;
    }
    return std::nullopt;
}

std::string run_keepalive(Client& client, const KeepaliveRequest& request) {
    std::optional<State> state = client.current_state();
    if (!state) {
        return "no session in the state file";
    }
    const std::filesystem::path& state_path = client.config().state_path;
    if (std::optional<pid_t> other = live_keepalive(state_path); other && *other != ::getpid()) {
        return fmt::format("heartbeat {} already keeps this session alive", *other);
    }
    PidFile pid_file(keepalive_pid_path(state_path));
    Session session = state->session;
    Duration interval = std::max(session.ttl / 3, Duration(500));
    TimePoint last_renewed = now();
    for (;;) {
        // Sleep in short steps so that the end of the watched process is noticed quickly.
        TimePoint next = now() + interval;
        while (now() < next) {
            if (!process_alive(request.watched)) {
                return fmt::format("process {} ended", request.watched);
            }
            std::this_thread::sleep_for(std::min<Duration>(next - now(), Duration(200)));
        }
        try {
            std::optional<State> current = client.current_state();
            if (!current || current->session.id != session.id) {
                return "the session was deregistered";
            }
            session = client.renew(session);
            last_renewed = now();
            if (request.scope == KeepaliveScope::locks && !holds_a_key(client, session.id)) {
                return "the session holds no key any more";
            }
        } catch (const SessionGone&) {
            return "the session lapsed on the backend";
        } catch (const Error& e) {
            if (now() - last_renewed >= session.ttl) {
                return fmt::format("the backend could not be reached for a whole TTL: {}",
                                   e.what());
            }
        }
    }
}

void spawn_detached(const std::vector<std::string>& argv,
                    const std::vector<std::string>& extra_env) {
    std::vector<char*> args = exec_array(argv);
    const std::vector<std::string> env_strings = environment_with(extra_env);
    std::vector<char*> envp = exec_array(env_strings);

    pid_t first = ::fork();
    if (first < 0) {
        throw Error(ExitCode::backend, "internal",
                    fmt::format("cannot start the keepalive process: {}", std::strerror(errno)));
    }
    if (first == 0) {
        ::setsid();
        if (::fork() != 0) {
            ::_exit(0); // the daemon is re-parented to init and never gets a terminal
        }
        int null = ::open("/dev/null", O_RDWR);
        for (int fd = 0; fd <= 2; ++fd) {
            ::dup2(null, fd);
        }
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        ::signal(SIGINT, SIG_IGN); // Ctrl-C in the terminal is the job's, not the heartbeat's
        ::signal(SIGHUP, SIG_IGN);
        ::execve(args[0], args.data(), envp.data());
        ::_exit(127);
    }
    int status = 0;
    while (::waitpid(first, &status, 0) < 0 && errno == EINTR) {
    }
}

} // namespace bsup::core
