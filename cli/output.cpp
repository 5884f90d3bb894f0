#include "cli/output.hpp"

#include "core/clock.hpp"
#include "core/json.hpp"
#include "core/redact.hpp"

#include <algorithm>
#include <cstdio>
#include <fmt/format.h>

namespace bsup::cli {

namespace {

void write(std::FILE* stream, const std::string& text) {
    std::string clean = core::redact(text);
    std::fwrite(clean.data(), 1, clean.size(), stream);
    std::fflush(stream);
}

// "3m12s" for a span of time, rounded to the second for readability.
std::string span(core::Duration d) {
    return core::format_duration(std::chrono::duration_cast<std::chrono::seconds>(d));
}

std::string relative(const std::optional<core::TimePoint>& t, bool future) {
    if (!t) {
        return "-";
    }
    core::Duration d = future ? *t - core::now() : core::now() - *t;
    if (d.count() < 0) {
        return future ? "lapsed" : "just now";
    }
    return future ? "in " + span(d) : span(d) + " ago";
}

// ANSI SGR sequences: bold, green, yellow, red.
std::string paint(const std::string& text, Style style) {
    const char* code = "";
    switch (style) {
    case Style::plain:
        return text;
    case Style::header:
        code = "1";
        break;
    case Style::good:
        code = "32";
        break;
    case Style::warn:
        code = "33";
        break;
    case Style::bad:
        code = "1;31";
        break;
    }
    return fmt::format("\033[{}m{}\033[0m", code, text);
}

} // namespace

std::string render_table(const std::vector<std::vector<Cell>>& rows, bool color) {
    std::vector<std::size_t> widths;
    for (const auto& row : rows) {
        widths.resize(std::max(widths.size(), row.size()));
        for (std::size_t i = 0; i < row.size(); ++i) {
            widths[i] = std::max(widths[i], row[i].text.size());
        }
    }
    std::string out;
    for (const auto& row : rows) {
        for (std::size_t i = 0; i < row.size(); ++i) {
            bool last = i + 1 == row.size();
            std::string text = last ? row[i].text : fmt::format("{:<{}}", row[i].text, widths[i]);
            out += color ? paint(text, row[i].style) : text;
            out += last ? "\n" : "  ";
        }
    }
    return out;
}

void Output::result(const nlohmann::ordered_json& document, const std::string& text) const {
    if (json()) {
        write(stdout, document.dump() + "\n");
    } else if (!text.empty()) {
        write(stdout, text.back() == '\n' ? text : text + "\n");
    }
}

void Output::log(std::string_view level, const std::string& message) const {
    if (log_format == LogFormat::json) {
        nlohmann::ordered_json line{
            {"time", core::format_rfc3339(core::now())}, {"level", level}, {"message", message}};
        write(stderr, line.dump() + "\n");
    } else {
        std::string label = level == "info" ? "" : std::string(level) + ":";
        if (stderr_color && level == "error") {
            label = paint(label, Style::bad);
        }
        write(stderr, fmt::format("bsup: {}{}{}\n", label, label.empty() ? "" : " ", message));
    }
}

void Output::notice(const std::string& message) const {
    if (verbosity >= 0) {
        log("info", message);
    }
}

void Output::progress(const std::string& message) const {
    if ((stderr_tty && verbosity >= 0) || verbosity > 0) {
        log("info", message);
    }
}

void Output::debug(const std::string& message) const {
    if (verbosity > 0) {
        log("debug", message);
    }
}

void Output::error(const core::Error& e) const {
    log("error", e.what());
    if (!e.hint().empty()) {
        log("hint", e.hint());
    }
    if (json()) {
        nlohmann::ordered_json error{{"code", e.code()},
                                     {"message", e.what()},
                                     {"exit_code", static_cast<int>(e.exit_code())}};
        if (!e.hint().empty()) {
            error["hint"] = e.hint();
        }
        write(stdout, nlohmann::ordered_json{{"error", error}}.dump() + "\n");
    }
}

std::string time_ago(core::TimePoint t) {
    return relative(t, false);
}

std::string describe_holder(const core::Semaphore& s) {
    std::string who = s.acquirer_name.empty() ? "an unnamed holder" : s.acquirer_name;
    if (!s.acquirer_address.empty()) {
        who += " at " + s.acquirer_address;
    }
    std::string out = fmt::format("{} (session {})", who, s.session_id);
    if (s.acquired_at) {
        out += fmt::format(", held {}", span(core::now() - *s.acquired_at));
    }
    if (s.expires_at) {
        out += fmt::format(", expires {}", relative(s.expires_at, true));
    }
    return out;
}

std::string status_table(const std::vector<core::Semaphore>& rows, bool color) {
    std::vector<std::vector<Cell>> cells{{{"KEY", Style::header},
                                          {"STATE", Style::header},
                                          {"HOLDER", Style::header},
                                          {"ADDRESS", Style::header},
                                          {"SESSION", Style::header},
                                          {"INDEX", Style::header},
                                          {"HELD", Style::header},
                                          {"EXPIRES", Style::header}}};
    for (const core::Semaphore& s : rows) {
        bool held = s.is_acquired.value_or(false);
        Cell state = !s.is_acquired ? Cell{"unknown", Style::bad}
                     : held         ? Cell{"held", Style::warn}
                                    : Cell{"free", Style::good};
        cells.push_back({
            {s.key},
            state,
            {held ? s.acquirer_name : "-"},
            {held && !s.acquirer_address.empty() ? s.acquirer_address : "-"},
            {held ? s.session_id : "-"},
            {held && s.lock_index ? std::to_string(*s.lock_index) : "-"},
            {held && s.acquired_at ? span(core::now() - *s.acquired_at) : "-"},
            {held ? relative(s.expires_at, true) : "-"},
        });
    }
    return render_table(cells, color);
}

std::string services_table(const std::vector<core::Service>& rows, bool color) {
    std::vector<std::vector<Cell>> cells{{{"NAME", Style::header},
                                          {"ID", Style::header},
                                          {"ADDRESS", Style::header},
                                          {"VERSION", Style::header},
                                          {"TAGS", Style::header}}};
    for (const core::Service& s : rows) {
        std::string tags;
        for (const std::string& t : s.tags) {
            tags += (tags.empty() ? "" : ",") + t;
        }
        cells.push_back({{s.name},
                         {s.id},
                         {s.address.empty() ? "-" : s.address},
                         {s.version.empty() ? "-" : s.version},
                         {tags.empty() ? "-" : tags}});
    }
    return render_table(cells, color);
}

} // namespace bsup::cli
