#include "cli/context.hpp"

#include <fmt/format.h>

namespace bsup::cli {

core::ExitCode deregister_command(Context& ctx, const DeregisterFlags& f) {
    core::Client client = ctx.client();
    core::Deregistration result = client.deregister(f.force);
    nlohmann::ordered_json doc{{"deregistered", result.session.has_value()},
                               {"session_id", result.session
                                                  ? nlohmann::ordered_json(result.session->id)
                                                  : nlohmann::ordered_json(nullptr)},
                               {"released", result.released}};
    std::string text;
    if (result.session) {
        text = fmt::format("ended session {}", result.session->id);
        for (const std::string& key : result.released) {
            text += fmt::format("\nreleased {}", key);
        }
    } else {
        ctx.out.notice(fmt::format("no session to end (no state file at {})",
                                   client.config().state_path.string()));
    }
    ctx.out.result(doc, ctx.out.verbosity < 0 ? std::string() : text);
    return core::ExitCode::ok;
}

} // namespace bsup::cli
