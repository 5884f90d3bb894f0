#include "cli/context.hpp"
#include "core/json.hpp"
#include "core/keepalive.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace bsup::cli {

core::ExitCode status_command(Context& ctx, const StatusFlags& f) {
    core::Client client = ctx.client();
    std::vector<core::Semaphore> rows;
    if (f.keys.empty()) {
        rows = client.held();
    } else {
        for (const std::string& key : f.keys) {
            rows.push_back(client.status(key));
        }
    }
    // The keys of this state file's session say whether a heartbeat (--keepalive) renews it.
    std::string own_session;
    std::optional<pid_t> keepalive;
    try {
        if (std::optional<core::State> state = client.current_state()) {
            own_session = state->session.id;
            keepalive = core::live_keepalive(client.config().state_path);
        }
    } catch (const core::Error&) {
        // No usable state file: nothing is ours.
    }
    nlohmann::ordered_json items = nlohmann::ordered_json::array();
    for (const core::Semaphore& s : rows) {
        nlohmann::ordered_json item = s;
        if (!own_session.empty() && s.session_id == own_session) {
            item["keepalive"] = keepalive.has_value();
        }
        items.push_back(std::move(item));
    }
    // SPEC: `status KEY` prints one object; no key or several keys print an array.
    nlohmann::ordered_json doc = f.keys.size() == 1 ? items.front() : items;
    std::string text =
        rows.empty() ? std::string("no keys are held\n") : status_table(rows, ctx.out.color);
    if (keepalive) {
        text += fmt::format("session {} is kept alive by process {}\n", own_session, *keepalive);
    }
    ctx.out.result(doc, text);

    bool any_free = std::any_of(rows.begin(), rows.end(), [](const core::Semaphore& s) {
        return !s.is_acquired.value_or(false);
    });
    if (f.exit_status && (any_free || rows.empty())) {
        return core::ExitCode::not_acquired;
    }
    return core::ExitCode::ok;
}

} // namespace bsup::cli
