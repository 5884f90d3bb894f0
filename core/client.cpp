#include "core/client.hpp"

#include "core/errors.hpp"
#include "core/key.hpp"
#include "core/ksuid.hpp"

#include <climits>
#include <fmt/format.h>
#include <unistd.h>

namespace bsup::core {

namespace {

constexpr Duration k_min_ttl = std::chrono::seconds(10);
constexpr Duration k_max_ttl = std::chrono::hours(24);
constexpr Duration k_test_min_ttl_floor = std::chrono::seconds(1);

// SPEC: a state file of another backend than the one asked for is exit 4, never reused.
void check_backend(const State& state, const ConnectionSettings& asked,
                   const std::filesystem::path& path) {
    if (state.driver == asked.driver && state.endpoint == asked.endpoint) {
        return;
    }
    throw state_file_error(
        fmt::format("state file {} belongs to {} at {}, but this command asks for {} at {}",
                    path.string(), to_string(state.driver), state.endpoint, to_string(asked.driver),
                    asked.endpoint),
        "pass the same --from/--connection as the command that registered the session, another "
        "--state-file, or end that session with 'bsup deregister'");
}

} // namespace

void validate_ttl(Duration ttl, const Environment& env) {
    Duration floor = k_min_ttl;
    if (auto test_floor = env("BSUP_MIN_TTL")) {
        floor = std::max(parse_duration(*test_floor, "BSUP_MIN_TTL"), k_test_min_ttl_floor);
    }
    if (ttl < floor || ttl > k_max_ttl) {
        throw usage_error(fmt::format("invalid --ttl {}: must be between {} and {}",
                                      format_duration(ttl), format_duration(floor),
                                      format_duration(k_max_ttl)));
    }
}

Service default_service() {
    char host[HOST_NAME_MAX + 1] = {};
    if (::gethostname(host, sizeof host - 1) != 0) {
        host[0] = '\0';
    }
    Service service;
    service.name = "bsup";
    service.address = host;
    return service;
}

Client::Client(ClientConfig config, SupervisorFactory factory, NoticeSink notice)
    : m_config(std::move(config)), m_factory(std::move(factory)), m_notice(std::move(notice)) {}

Supervisor& Client::supervisor() {
    if (!m_supervisor) {
        m_supervisor = m_factory(m_config.connection);
    }
    return *m_supervisor;
}

std::optional<State> Client::current_state() {
    StateFile file(m_config.state_path);
    std::optional<State> state = file.read();
    if (state) {
        check_backend(*state, m_config.connection, file.path());
    }
    return state;
}

// Called with the state file's guard held.
Session Client::start_session(const StateFile& file) {
    Session session = start_own_session();
    try {
        file.write(State{m_config.connection.driver, m_config.connection.endpoint, session});
    } catch (...) {
        // Without a state file nobody could end this session: end it now, so nothing is orphaned.
        try {
            supervisor().shutdown(session);
        } catch (const Error&) {
            // The session lapses with its TTL.
        }
        throw;
    }
    return session;
}

Registration Client::register_session() {
    StateFile file(m_config.state_path);
    StateFile::Guard guard = file.lock();
    if (std::optional<State> state = current_state()) {
        try {
            return Registration{supervisor().renew(state->session), false};
        } catch (const SessionGone&) {
            m_notice(fmt::format("session {} had lapsed; starting a new one", state->session.id));
        }
    }
    return Registration{start_session(file), true};
}

Deregistration Client::deregister(bool force) {
    StateFile file(m_config.state_path);
    StateFile::Guard guard = file.lock();
    Deregistration out;
    std::optional<State> state;
    try {
        state = current_state();
    } catch (const Error& e) {
        if (!force) {
            throw;
        }
        m_notice(fmt::format("discarding the state file: {}", e.what()));
    }
    if (state) {
        out.session = state->session;
        try {
            out.released = supervisor().shutdown(state->session);
        } catch (const Error& e) {
            if (!force) {
                throw;
            }
            m_notice(fmt::format("could not end session {} on the backend ({}); its locks lapse "
                                 "with its TTL",
                                 state->session.id, e.what()));
        }
    }
    file.remove();
    return out;
}

Acquisition Client::lock(const std::string& key, Duration wait,
                         const std::function<void(const Semaphore&)>& on_blocked) {
    validate_key(key);
    StateFile file(m_config.state_path);
    Session session;
    {
        StateFile::Guard guard = file.lock();
        std::optional<State> state = current_state();
        session = state ? state->session : start_session(file);
    }
    return acquire(session, key, wait, on_blocked, true);
}

Acquisition Client::acquire(Session& session, const std::string& key, Duration wait,
                            const std::function<void(const Semaphore&)>& on_blocked,
                            bool persistent) {
    validate_key(key);
    TimePoint deadline = now() + wait;
    Lock lock{key};
    std::string last_holder;
    bool waited = false;
    for (;;) {
        Acquisition result = lock_once(session, lock, persistent);
        if (result.acquired) {
            return result;
        }
        if (now() >= deadline) {
            if (waited) {
                if (std::optional<Semaphore> handed = supervisor().stop_waiting(session, lock)) {
                    return Acquisition{true, *handed}; // handed over as the wait ran out
                }
            }
            return result;
        }
        if (on_blocked && result.semaphore.session_id != last_holder) {
            last_holder = result.semaphore.session_id;
            on_blocked(result.semaphore);
        }
        // A wait may outlive the session's TTL: renew it each time a third of the TTL has passed.
        TimePoint wake = deadline;
        if (session.expires_at) {
            TimePoint renew_at = *session.expires_at - session.ttl * 2 / 3;
            if (now() >= renew_at) {
                session = supervisor().renew(session);
                renew_at = session.expires_at.value_or(now() + session.ttl) - session.ttl * 2 / 3;
            }
            wake = std::min(wake, renew_at);
        }
        supervisor().wait_for_change(session, lock, result.semaphore, wake);
        waited = true;
    }
}

// One attempt; when the backend forgot the session, starts a new one (or adopts the one another
// process wrote to the state file meanwhile) and tries again.
Acquisition Client::lock_once(Session& session, const Lock& lock, bool persistent) {
    try {
        return supervisor().lock(session, lock);
    } catch (const SessionGone&) {
        if (persistent) {
            StateFile file(m_config.state_path);
            StateFile::Guard guard = file.lock();
            std::optional<State> state = current_state();
            if (state && state->session.id != session.id) {
                session = state->session;
            } else {
                m_notice(fmt::format("session {} had lapsed; starting a new one", session.id));
                session = start_session(file);
            }
        } else {
            session = start_own_session();
        }
    }
    return supervisor().lock(session, lock);
}

Session Client::start_own_session() {
    SessionRequest request{m_config.service, m_config.ttl, m_config.check_http};
    std::string id = new_ksuid();
    request.service.id = request.service.id.empty() ? id : request.service.id;
    return supervisor().init(id, request);
}

Client::RunSession Client::session_for_run() {
    if (std::optional<State> state = current_state()) {
        return RunSession{state->session, false};
    }
    return RunSession{start_own_session(), true};
}

Session Client::renew(const Session& session) {
    return supervisor().renew(session);
}

Release Client::release(const Session& session, const std::string& key) {
    return supervisor().unlock(session, Lock{key});
}

void Client::expect_release(const std::string& key) {
    supervisor().expect_release(Lock{key});
}

void Client::end(const Session& session) {
    supervisor().shutdown(session);
}

Release Client::unlock(const std::string& key, bool force, const std::string& reason) {
    validate_key(key);
    if (!reason.empty() && !force) {
        throw usage_error("--reason needs --force: only a forced break records a reason");
    }
    if (reason.size() > k_max_reason_bytes) {
        throw usage_error(fmt::format("--reason is {} bytes long; at most {} are allowed",
                                      reason.size(), k_max_reason_bytes));
    }
    if (force) {
        return supervisor().force_unlock(Lock{key}, reason);
    }
    // Without a live session nothing is ours: report who holds the key, release nothing.
    std::optional<State> state = current_state();
    if (state) {
        try {
            return supervisor().unlock(state->session, Lock{key});
        } catch (const SessionGone&) {
        }
    }
    Release none;
    none.previous = supervisor().status(Lock{key});
    return none;
}

Semaphore Client::status(const std::string& key) {
    validate_key(key);
    return supervisor().status(Lock{key});
}

std::vector<Event> Client::history(const std::optional<std::string>& key, int limit) {
    if (key) {
        validate_key(*key);
    }
    if (limit < 1 || limit > k_max_history_limit) {
        throw usage_error(fmt::format("invalid --limit {}: must be between 1 and {}", limit,
                                      k_max_history_limit));
    }
    return supervisor().history(key, limit);
}

std::vector<Semaphore> Client::held() {
    return supervisor().held();
}

Session Client::renew() {
    StateFile file(m_config.state_path);
    std::optional<State> state = current_state();
    if (!state) {
        throw state_file_error(
            fmt::format("no session: state file {} does not exist", file.path().string()),
            "start one with 'bsup register' or 'bsup lock KEY'");
    }
    return supervisor().renew(state->session);
}

std::vector<Service> Client::services() {
    return supervisor().services();
}

} // namespace bsup::core
