#include "cli/cmd_history.hpp"

#include "core/json.hpp"

#include <algorithm>
#include <fmt/format.h>

namespace bsup::cli {

namespace {

// Free text (a reason) on one line of the table: control characters become spaces.
std::string one_line(std::string text) {
    std::replace_if(
        text.begin(), text.end(),
        [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7F; }, ' ');
    return text.empty() ? "-" : text;
}

std::string or_dash(const std::string& text) {
    return text.empty() ? "-" : text;
}

Style style_of(core::EventKind kind) {
    switch (kind) {
    case core::EventKind::grant:
        return Style::good;
    case core::EventKind::expiry:
        return Style::warn;
    case core::EventKind::force:
        return Style::bad;
    case core::EventKind::release:
        break;
    }
    return Style::plain;
}

std::string history_table(const std::vector<core::Event>& events, bool color) {
    std::vector<std::vector<Cell>> rows{{{"TIME", Style::header},
                                         {"EVENT", Style::header},
                                         {"KEY", Style::header},
                                         {"HOLDER", Style::header},
                                         {"ADDRESS", Style::header},
                                         {"SESSION", Style::header},
                                         {"INDEX", Style::header},
                                         {"REASON", Style::header}}};
    for (const core::Event& e : events) {
        rows.push_back({{time_ago(e.time)},
                        {std::string(core::to_string(e.kind)), style_of(e.kind)},
                        {e.key},
                        {or_dash(e.acquirer_name)},
                        {or_dash(e.acquirer_address)},
                        {or_dash(e.session_id)},
                        {e.lock_index ? std::to_string(*e.lock_index) : "-"},
                        {e.reason ? one_line(*e.reason) : "-"}});
    }
    return render_table(rows, color);
}

} // namespace

core::ExitCode history_command(Context& ctx, const HistoryFlags& f) {
    std::optional<std::string> key;
    if (!f.key.empty()) {
        key = f.key;
    }
    std::vector<core::Event> events = ctx.client().history(key, f.limit);
    nlohmann::ordered_json doc{{"events", nlohmann::ordered_json(events)}};
    std::string none = key ? fmt::format("no events for {}\n", *key) : "no events\n";
    ctx.out.result(doc, events.empty() ? none : history_table(events, ctx.out.color));
    return core::ExitCode::ok;
}

} // namespace bsup::cli
