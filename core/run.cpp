#include "core/run.hpp"

#include "core/child.hpp"
#include "core/errors.hpp"

#include <cerrno>
#include <csignal>
#include <ctime>
#include <fmt/format.h>

namespace bsup::core {

namespace {

// The signals the run loop takes itself: blocked, and read with sigtimedwait.
class BlockedSignals {
  public:
    BlockedSignals() {
        sigemptyset(&m_set);
        for (int s : {SIGCHLD, SIGINT, SIGTERM, SIGHUP}) {
            sigaddset(&m_set, s);
        }
        ::sigprocmask(SIG_BLOCK, &m_set, &m_old);
    }
    BlockedSignals(const BlockedSignals&) = delete;
    BlockedSignals& operator=(const BlockedSignals&) = delete;
    ~BlockedSignals() {
        // Drop what is pending so that restoring the mask does not deliver it now.
        timespec zero{};
        while (::sigtimedwait(&m_set, nullptr, &zero) > 0) {
        }
        ::sigprocmask(SIG_SETMASK, &m_old, nullptr);
    }

    // The next signal within `timeout`, or 0.
    int next(Duration timeout) {
        auto ms = std::max<Duration::rep>(timeout.count(), 0);
        timespec ts{static_cast<time_t>(ms / 1000), static_cast<long>(ms % 1000) * 1'000'000};
        int s = ::sigtimedwait(&m_set, nullptr, &ts);
        return s > 0 ? s : 0;
    }

  private:
    sigset_t m_set{};
    sigset_t m_old{};
};

// TERM to the whole group; KILL to whatever of it is left after `grace` (a grandchild that
// ignores TERM included). Returns the child's exit code.
int stop_child(Child& child, BlockedSignals& signals, Duration grace) {
    child.signal(SIGTERM);
    TimePoint until = now() + grace;
    while (!(child.reap() && !child.group_alive()) && now() < until) {
        signals.next(std::min<Duration>(until - now(), Duration(50)));
    }
    child.signal(SIGKILL);
    return child.wait();
}

} // namespace

RunResult run_locked(Client& client, const RunRequest& request, const RunEvents& events) {
    RunResult result;
    Client::RunSession run = client.session_for_run();
    Session& session = run.session;
    auto end_own_session = [&] {
        if (run.own) {
            try {
                client.end(session);
            } catch (const Error&) {
                // It lapses with its TTL.
            }
        }
    };

    try {
        result.acquisition =
            client.acquire(session, request.key, request.wait, events.on_blocked, !run.own);
    } catch (...) {
        end_own_session();
        throw;
    }
    if (!result.acquisition.acquired) {
        end_own_session();
        return result;
    }

    BlockedSignals signals;
    std::vector<std::string> env{
        "BSUP_LOCK_KEY=" + request.key,
        "BSUP_SESSION_ID=" + session.id,
        "BSUP_LOCK_INDEX=" + std::to_string(result.acquisition.semaphore.lock_index.value_or(0)),
    };
    std::optional<Child> child;
    try {
        child.emplace(request.argv, env);
    } catch (...) {
        client.release(session, request.key);
        end_own_session();
        throw;
    }

    try {
        client.expect_release(request.key); // while the child runs: off the hand-off's path
    } catch (const Error&) {
        // Only a hint; the renewals below find out whether the backend is there.
    }

    Duration interval = std::max(session.ttl / 3, Duration(500));
    TimePoint last_renewed = now();
    TimePoint next_renewal = last_renewed + interval;
    auto lose = [&](std::string reason) {
        result.lock_lost = true;
        result.lost_reason = std::move(reason);
        if (events.on_lost) {
            events.on_lost(result.lost_reason);
        }
        result.exit_code = stop_child(*child, signals, request.grace);
    };

    while (!result.exit_code) {
        int sig = signals.next(next_renewal - now());
        if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP) {
            child->signal(sig);
        }
        if (std::optional<int> code = child->reap()) {
            result.exit_code = code;
            break;
        }
        if (now() < next_renewal) {
            continue;
        }
        next_renewal = now() + interval;
        try {
            session = client.renew(session);
            last_renewed = now();
            Semaphore status = client.status(request.key);
            if (status.is_acquired && (!*status.is_acquired || status.session_id != session.id)) {
                lose(status.is_acquired.value()
                         ? fmt::format("{} was taken over by session {}", request.key,
                                       status.session_id)
                         : fmt::format("{} was released by someone else (unlock --force?)",
                                       request.key));
            }
        } catch (const SessionGone&) {
            lose(fmt::format("session {} ended on the backend", session.id));
        } catch (const Error& e) {
            if (now() - last_renewed >= session.ttl) {
                lose(fmt::format("the backend could not be reached for longer than the TTL "
                                 "({}): {}",
                                 format_duration(session.ttl), e.what()));
            }
        }
    }

    if (!result.lock_lost) {
        try {
            client.release(session, request.key);
        } catch (const Error&) {
            // The lock lapses with the session's TTL.
        }
    }
    end_own_session();
    return result;
}

} // namespace bsup::core
