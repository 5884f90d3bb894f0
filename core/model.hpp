#pragma once

// The model of the Blacksmith `supervisor` package, with bsup's additions. Field names follow
// the JSON fields of SPEC.md, which users rely on.

#include "core/clock.hpp"
#include "core/duration.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace bsup::core {

enum class DriverName { sqlite, postgres, consul };

std::string_view to_string(DriverName driver);
std::optional<DriverName> parse_driver_name(std::string_view name);

// A key to acquire and release (validated by validate_key before any backend sees it).
struct Lock {
    std::string key;
};

// The status of a key. `is_acquired` is empty when the status could not be read; the acquirer
// strings are empty when the key is free.
struct Semaphore {
    std::string key;
    bool is_applicable = true;
    std::optional<bool> is_acquired;
    std::string acquirer_name;
    std::string acquirer_address;
    std::string session_id;
    std::optional<std::int64_t> lock_index; // fencing token: grows with every new grant
    std::optional<TimePoint> acquired_at;
    std::optional<TimePoint> expires_at; // when the holder's session lapses unless renewed
};

// A registered instance (Blacksmith's examples: name "blacksmith-gateway", address ":9090").
struct Service {
    std::string id;
    std::string name;
    std::string version;
    std::string address;
    std::vector<std::string> tags;
    std::map<std::string, std::string> meta;
};

// What the driver and connection are (Blacksmith's Options); `connection` is a secret.
struct Options {
    DriverName from = DriverName::sqlite;
    std::string connection;
};

// A bsup session as it lives between invocations (in the state file) and on the backend.
struct Session {
    std::string id;     // KSUID, bsup's own
    std::string handle; // the backend's own ID for it (Consul's session ID); may equal `id`
    Service service;
    Duration ttl{};
    TimePoint created_at{};
    std::optional<TimePoint> expires_at; // as the backend last said
};

// The result of one attempt to acquire: `acquired` is whether this session holds the key now;
// `semaphore` is the key's status after the attempt (the holder, when it is another session).
struct Acquisition {
    bool acquired = false;
    Semaphore semaphore;
};

// The result of a release: `released` is false when the key was not held by this session
// (or, forced, by anyone). `previous` is the status before the release: who held it.
struct Release {
    bool released = false;
    Semaphore previous;
};

// What happened to a key, as `bsup history` shows it. Recorded by the driver with the change it
// describes (docs/DESIGN.md "History").
enum class EventKind {
    grant,   // a session acquired the key (a new grant; not the holder locking it again)
    release, // the holder released it (unlock, or deregister/shutdown)
    expiry,  // the holder's session lapsed; recorded when bsup observes it
    force,   // unlock --force broke it
};

constexpr std::string_view to_string(EventKind kind) {
    switch (kind) {
    case EventKind::grant:
        return "grant";
    case EventKind::release:
        return "release";
    case EventKind::expiry:
        return "expiry";
    case EventKind::force:
        return "force";
    }
    return "unknown";
}

constexpr std::optional<EventKind> parse_event_kind(std::string_view name) {
    for (EventKind k :
         {EventKind::grant, EventKind::release, EventKind::expiry, EventKind::force}) {
        if (name == to_string(k)) {
            return k;
        }
    }
    return std::nullopt;
}

// One entry of a key's history. The holder fields name the session the event is about: the new
// holder for a grant, the former holder otherwise. `reason` is set only for a forced break.
struct Event {
    TimePoint time{};
    std::string key;
    EventKind kind = EventKind::grant;
    std::string session_id;
    std::string acquirer_name;
    std::string acquirer_address;
    std::optional<std::int64_t> lock_index;
    std::optional<std::string> reason;
};

// Bounds of `history` and of `unlock --reason` (drivers keep at most their own bound of events).
constexpr int k_max_history_limit = 10000;
constexpr std::size_t k_max_reason_bytes = 1024;

} // namespace bsup::core
