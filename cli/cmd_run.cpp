#include "cli/context.hpp"
#include "core/json.hpp"
#include "core/run.hpp"

#include <fmt/format.h>

namespace bsup::cli {

core::ExitCode run_command(Context& ctx, const RunFlags& f) {
    core::Duration ttl = core::parse_duration(f.ttl, "--ttl");
    core::validate_ttl(ttl, ctx.env);
    core::RunRequest request;
    request.key = f.key;
    request.wait = core::parse_duration(f.wait, "--wait");
    request.grace = core::parse_duration(f.grace, "--grace");
    request.argv = f.command;
    core::Client client = ctx.client(core::default_service(), ttl);

    core::RunEvents events;
    events.on_blocked = [&](const core::Semaphore& holder) {
        ctx.out.progress(fmt::format("waiting for {}: held by {}", f.key, describe_holder(holder)));
    };
    events.on_lost = [&](const std::string& reason) {
        ctx.out.notice(fmt::format("lost the lock on {}: {}; stopping the command", f.key, reason));
    };
    core::RunResult result = core::run_locked(client, request, events);

    nlohmann::ordered_json doc = result.acquisition.semaphore;
    doc["acquired"] = result.acquisition.acquired;
    doc["exit_code"] = result.exit_code ? nlohmann::ordered_json(*result.exit_code) : nullptr;
    doc["lock_lost"] = result.lock_lost;
    if (!result.acquisition.acquired) {
        ctx.out.result(doc, "");
        ctx.out.notice(
            fmt::format("{} is held by {}", f.key, describe_holder(result.acquisition.semaphore)));
        return static_cast<core::ExitCode>(f.conflict_exit_code);
    }
    if (result.lock_lost) {
        doc["lost_reason"] = result.lost_reason;
        ctx.out.result(doc, "");
        return core::ExitCode::lock_lost;
    }
    ctx.out.result(doc, "");
    return static_cast<core::ExitCode>(*result.exit_code);
}

} // namespace bsup::cli
