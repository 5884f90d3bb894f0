#include "cli/context.hpp"
#include "core/json.hpp"

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
    // SPEC: `status KEY` prints one object; no key or several keys print an array.
    nlohmann::ordered_json doc = f.keys.size() == 1 ? nlohmann::ordered_json(rows.front()) : nlohmann::ordered_json(rows);
    std::string text = rows.empty() ? std::string("no keys are held\n") : status_table(rows);
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
