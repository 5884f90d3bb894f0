#pragma once

#include "core/client.hpp"

#include <functional>
#include <string>
#include <vector>

namespace bsup::core {

constexpr Duration k_default_run_ttl = std::chrono::seconds(15);
constexpr Duration k_default_grace = std::chrono::seconds(10);

struct RunRequest {
    std::string key;
    Duration wait{0};
    Duration grace = k_default_grace;
    std::vector<std::string> argv;
};

struct RunResult {
    Acquisition acquisition;      // not acquired: the command never ran
    std::optional<int> exit_code; // the command's, as a shell reports it (128+N for signal N)
    bool lock_lost = false;       // the command was stopped because the lock was lost
    std::string lost_reason;
};

struct RunEvents {
    std::function<void(const Semaphore&)> on_blocked; // a new holder met while waiting
    std::function<void(const std::string&)> on_lost;  // the lock was lost; the child is stopped
};

// Holds `request.key` exactly as long as the command runs (SPEC "Time to live", `bsup run`):
// acquires it (waiting up to request.wait), starts the command in a process group of its own
// with BSUP_LOCK_KEY, BSUP_SESSION_ID and BSUP_LOCK_INDEX, renews the session at a third of its
// TTL, passes SIGINT, SIGTERM and SIGHUP on to the group, and when the lock is lost (renewal
// refused, the key broken, the backend unreachable past the TTL) stops the group: TERM, then
// KILL after request.grace. When the command ends the key is released, and a session of its own
// (no state file) is ended.
RunResult run_locked(Client& client, const RunRequest& request, const RunEvents& events);

} // namespace bsup::core
