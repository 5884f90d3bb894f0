#pragma once

#include "core/connection.hpp"
#include "core/state_file.hpp"
#include "core/supervisor.hpp"

#include <functional>
#include <memory>

namespace bsup::core {

using SupervisorFactory = std::function<std::unique_ptr<Supervisor>(const ConnectionSettings&)>;
using NoticeSink = std::function<void(const std::string&)>;

constexpr Duration k_default_ttl = std::chrono::minutes(15);

// Throws a usage Error unless `ttl` is within 10s and 24h. The floor can be lowered for tests
// only, with BSUP_MIN_TTL (never below 1s), so that expiry tests wait seconds, not minutes.
void validate_ttl(Duration ttl, const Environment& env);

// The service that `lock` registers when there is no session yet: name "bsup", the host's name.
Service default_service();

struct ClientConfig {
    ConnectionSettings connection;
    std::filesystem::path state_path;
    Service service;              // what register (or the first lock) registers
    Duration ttl = k_default_ttl; // the TTL of a session that this client starts
    std::string check_http;       // consul: the service's HTTP health check
};

struct Registration {
    Session session;
    bool created = false; // false: the state file named a live session already
};

struct Deregistration {
    std::optional<Session> session; // empty: there was no session
    std::vector<std::string> released;
};

// The core of bsup: keeps the session in the state file between invocations and calls the
// supervisor. One instance per command; it knows nothing of the command line and never prints
// (notices go to the sink the caller gives).
class Client {
  public:
    Client(ClientConfig config, SupervisorFactory factory, NoticeSink notice);

    const ClientConfig& config() const { return m_config; }

    Registration register_session();
    Deregistration deregister(bool force);

    // Acquires `key`, trying until `wait` has passed (0: once). The deadline is absolute, however
    // often the key changes hands; between attempts the driver waits for a change rather than
    // polling slowly. `on_blocked` hears of each new holder met while waiting. Starts a session
    // first when the state file has none, or when the backend forgot the one it names (it
    // lapsed: its locks are free already, so nothing is orphaned).
    Acquisition lock(const std::string& key, Duration wait = Duration(0),
                     const std::function<void(const Semaphore&)>& on_blocked = {});

    // Releases a key this session holds; `released` is false when it does not hold it. With
    // `force`, breaks the lock whoever holds it, and needs no session; `reason` (at most
    // k_max_reason_bytes, only with `force`) is recorded with the break in the key's history.
    Release unlock(const std::string& key, bool force, const std::string& reason = {});

    // The newest `limit` (1 to k_max_history_limit) events of `key`, or of every key when empty;
    // oldest first.
    std::vector<Event> history(const std::optional<std::string>& key, int limit);

    // For `run`: the session of the state file when there is one (kept afterwards: `own` is
    // false), else a session of its own that no state file remembers (to be ended with end()).
    struct RunSession {
        Session session;
        bool own = false;
    };
    RunSession session_for_run();

    // The waiting loop of lock(), on a session the caller holds; renews the session while it
    // waits. `persistent`: a lapsed session is replaced by one written to the state file.
    Acquisition acquire(Session& session, const std::string& key, Duration wait,
                        const std::function<void(const Semaphore&)>& on_blocked, bool persistent);
    Session renew(const Session& session);
    Release release(const Session& session, const std::string& key);
    // Tells the driver that this process will release `key` later (Supervisor::expect_release).
    void expect_release(const std::string& key);
    void end(const Session& session);

    Semaphore status(const std::string& key);
    std::vector<Semaphore> held();
    Session renew();
    std::vector<Service> services();

    // The session of the state file, checked against the backend asked for; empty when none.
    std::optional<State> current_state();

  private:
    Supervisor& supervisor();
    Session start_session(const StateFile& file);
    Session start_own_session();
    Acquisition lock_once(Session& session, const Lock& lock, bool persistent);

    ClientConfig m_config;
    SupervisorFactory m_factory;
    NoticeSink m_notice;
    std::unique_ptr<Supervisor> m_supervisor;
};

} // namespace bsup::core
