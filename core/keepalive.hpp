#pragma once

#include "core/client.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace bsup::core {

// What the heartbeat keeps alive: the whole session (register --keepalive: until deregister),
// or its locks (lock --keepalive: until the session holds no key any more).
enum class KeepaliveScope { session, locks };

struct KeepaliveRequest {
    pid_t watched = 0; // renew while this process lives
    KeepaliveScope scope = KeepaliveScope::locks;
};

// "<state file>.keepalive": the heartbeat's PID, while it runs.
std::filesystem::path keepalive_pid_path(const std::filesystem::path& state_path);

// The PID of the live heartbeat of the session in this state file, if one runs.
std::optional<pid_t> live_keepalive(const std::filesystem::path& state_path);

// The heartbeat itself, run in a detached process: renews the state file's session at a third of
// its TTL while `watched` lives. It stops, without releasing anything, when the watched process
// is gone (the locks then lapse within the TTL), and stops when the session is deregistered or
// replaced, lapsed, or (scope locks) holds no key. Returns when it stopped, with the reason.
std::string run_keepalive(Client& client, const KeepaliveRequest& request);

// Starts `argv` (argv[0] an absolute path) as a daemon: its own session, no terminal, standard
// streams on /dev/null, with `extra_env` added to the environment. Returns once it is started.
void spawn_detached(const std::vector<std::string>& argv,
                    const std::vector<std::string>& extra_env);

} // namespace bsup::core
