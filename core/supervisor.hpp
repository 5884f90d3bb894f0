#pragma once

#include "core/model.hpp"

#include <optional>
#include <string>
#include <vector>

namespace bsup::core {

// What a session is started with (register, or lock without a state file).
struct SessionRequest {
    Service service; // id is set by the caller to the new session ID
    Duration ttl{};
    std::string check_http; // consul: a URL the agent polls as the service's health check
};

// The supervisor of Blacksmith: one implementation per backend (drivers/<name>/). Every call is
// bounded by the driver's timeout. Failures throw core::Error (exit 3 for the backend, SessionGone
// when the backend no longer knows the session); contention is a result, not an error. Drivers
// never print.
class Supervisor {
  public:
    virtual ~Supervisor() = default;

    // Init: starts a session with the TTL on the backend's clock and registers its service.
    // `session_id` is a new KSUID chosen by the caller.
    virtual Session init(const std::string& session_id, const SessionRequest& request) = 0;

    // Shutdown: releases every key the session holds, ends the session, deregisters the service.
    // Returns the keys released. A session the backend no longer knows is not an error.
    virtual std::vector<std::string> shutdown(const Session& session) = 0;

    // One attempt to acquire `lock` for `session`; never waits for another holder. Acquiring a key
    // this session holds succeeds and changes nothing. Throws SessionGone if the session lapsed.
    virtual Acquisition lock(const Session& session, const Lock& lock) = 0;

    // Releases `lock` if `session` holds it; `released` is false otherwise.
    virtual Release unlock(const Session& session, const Lock& lock) = 0;

    // Breaks the lock whoever holds it (unlock --force, for operators); needs no session. The
    // break is recorded in the key's history with `reason` (empty: none).
    virtual Release force_unlock(const Lock& lock, const std::string& reason = {}) = 0;

    // The newest `limit` events of `key` (of every key when empty), oldest first. Drivers keep a
    // bounded number of events (docs/DESIGN.md "History").
    virtual std::vector<Event> history(const std::optional<std::string>& key, int limit) = 0;

    // The status of one key; of every held key (sorted by key).
    virtual Semaphore status(const Lock& lock) = 0;
    virtual std::vector<Semaphore> held() = 0;

    // Extends the session by its TTL on the backend's clock and returns it with the new expiry
    // (and the TTL the backend grants). Throws SessionGone if it lapsed already.
    virtual Session renew(const Session& session) = 0;

    // The services of live sessions.
    virtual std::vector<Service> services() = 0;

    // Blocks until `lock` may have changed from `last` (released, expired, taken by another), or
    // until `deadline`, whichever comes first; spurious returns are allowed. Used by --wait, for
    // `session`. A driver may queue `session` for the key meanwhile: a release then hands the key
    // to the longest waiting session that still waits, and the next lock() finds it held
    // (docs/DESIGN.md "Hand-off"). A waiter that gives up calls stop_waiting().
    virtual void wait_for_change(const Session& session, const Lock& lock, const Semaphore& last,
                                 TimePoint deadline) = 0;

    // `session` gives up waiting for `lock`: leaves the key's queue, if the driver keeps one.
    // Returns the key's status when a release handed the key to `session` before it left: it
    // holds the key then. By default, nothing.
    virtual std::optional<Semaphore> stop_waiting(const Session& /*session*/,
                                                  const Lock& /*lock*/) {
        return std::nullopt;
    }

    // A hint: this process holds `lock` and will release it itself later (bsup run). A driver may
    // get ready now, so that the release, when it comes, takes less time: the next holder waits
    // for it (docs/DESIGN.md "Hand-off"). Never needed for correctness; by default, nothing.
    virtual void expect_release(const Lock& /*lock*/) {}
};

} // namespace bsup::core
