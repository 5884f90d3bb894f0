#include "cli/context.hpp"
#include "core/json.hpp"

#include <fmt/format.h>

namespace bsup::cli {

core::ExitCode lock_command(Context& ctx, const LockFlags& f) {
    core::Duration ttl = core::parse_duration(f.ttl, "--ttl");
    core::validate_ttl(ttl, ctx.env);
    core::Duration wait = core::parse_duration(f.wait, "--wait");
    core::Client client = ctx.client(core::default_service(), ttl);

    core::TimePoint started = core::now();
    core::Acquisition result = client.lock(f.key, wait, [&](const core::Semaphore& holder) {
        ctx.out.progress(fmt::format("waiting for {}: held by {}", f.key, describe_holder(holder)));
    });
    core::Duration waited = core::now() - started;

    nlohmann::ordered_json doc = result.semaphore;
    doc["acquired"] = result.acquired;
    doc["waited_ms"] = waited.count();
    if (result.acquired) {
        if (f.keepalive) {
            start_keepalive(ctx, client, false, f.keepalive_pid);
        }
        const core::Semaphore& s = result.semaphore;
        ctx.out.result(doc, ctx.out.verbosity < 0
                                ? std::string()
                                : fmt::format("acquired {} (session {}, lock index {})", f.key,
                                              s.session_id, s.lock_index.value_or(0)));
        return core::ExitCode::ok;
    }
    ctx.out.result(doc, "");
    std::string after = wait.count() > 0
                            ? fmt::format(" (waited {})", core::format_duration(waited))
                            : std::string();
    ctx.out.notice(
        fmt::format("{} is held by {}{}", f.key, describe_holder(result.semaphore), after));
    return static_cast<core::ExitCode>(f.conflict_exit_code);
}

} // namespace bsup::cli
