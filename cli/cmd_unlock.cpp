#include "cli/context.hpp"
#include "core/json.hpp"

#include <fmt/format.h>

namespace bsup::cli {

core::ExitCode unlock_command(Context& ctx, const UnlockFlags& f) {
    core::Client client = ctx.client();
    core::Release result = client.unlock(f.key, f.force, f.reason);
    const core::Semaphore& previous = result.previous;
    bool was_held = previous.is_acquired.value_or(false);

    nlohmann::ordered_json doc{{"key", f.key}, {"released", result.released}, {"forced", f.force}};
    doc["previous"] = was_held ? nlohmann::ordered_json(previous) : nlohmann::ordered_json(nullptr);

    if (result.released) {
        std::string text = fmt::format("released {}", f.key);
        if (f.force) {
            text += fmt::format(" (it was held by {})", describe_holder(previous));
            if (!f.reason.empty()) {
                text += "; recorded in its history with the reason given";
            }
        }
        ctx.out.result(doc, ctx.out.verbosity < 0 && !f.force ? std::string() : text);
        return core::ExitCode::ok;
    }
    ctx.out.result(doc, "");
    ctx.out.notice(was_held ? fmt::format("{} is not held by this session; it is held by {}", f.key,
                                          describe_holder(previous))
                            : fmt::format("{} is not held", f.key));
    return core::ExitCode::not_acquired;
}

} // namespace bsup::cli
