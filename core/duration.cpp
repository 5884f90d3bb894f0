#include "core/duration.hpp"

#include "core/errors.hpp"

#include <cstdlib>
#include <fmt/format.h>

namespace bsup::core {

namespace {

struct Unit {
    std::string_view name;
    double ms;
};

// Longest names first, so that "ms" is not read as "m".
constexpr Unit k_units[] = {{"ms", 1.0}, {"s", 1000.0}, {"m", 60'000.0}, {"h", 3'600'000.0}};

constexpr double k_max_ms = 1e15; // ~31,000 years: far beyond any TTL, far below overflow

} // namespace

Duration parse_duration(std::string_view text, std::string_view what) {
    auto fail = [&](std::string_view why) {
        return usage_error(fmt::format("invalid {} '{}': {}", what, text, why),
                           "use a number with a unit, like 30s, 15m or 1h30m");
    };
    if (text.empty()) {
        throw fail("empty");
    }
    if (text == "0") {
        return Duration(0);
    }
    double total = 0;
    std::size_t i = 0;
    while (i < text.size()) {
        std::size_t start = i;
        bool dot = false;
        while (i < text.size() &&
               ((text[i] >= '0' && text[i] <= '9') || (text[i] == '.' && !dot))) {
            dot = dot || text[i] == '.';
            ++i;
        }
        std::string_view number = text.substr(start, i - start);
        if (number.empty() || number == ".") {
            throw fail(text[start] == '-' ? "must not be negative" : "expected a number");
        }
        const Unit* unit = nullptr;
        for (const Unit& u : k_units) {
            if (text.substr(i, u.name.size()) == u.name) {
                unit = &u;
                break;
            }
        }
        if (unit == nullptr) {
            throw fail("missing or unknown unit (ms, s, m, h)");
        }
        i += unit->name.size();
        // strtod, not stod: a number past double's range reads as infinity ("too large" below)
        // and one below it as 0, where stod would throw std::out_of_range (exit 3, not 2).
        total += std::strtod(std::string(number).c_str(), nullptr) * unit->ms;
        if (total > k_max_ms) {
            throw fail("too large");
        }
    }
    return Duration(static_cast<Duration::rep>(total + 0.5)); // total >= 0: rounds half up
}

std::string format_duration(Duration d) {
    auto ms = d.count();
    if (ms == 0) {
        return "0s";
    }
    std::string out;
    if (ms < 0) {
        out += '-';
        ms = -ms;
    }
    if (ms < 1000) {
        return out + fmt::format("{}ms", ms);
    }
    auto h = ms / 3'600'000;
    ms %= 3'600'000;
    auto m = ms / 60'000;
    ms %= 60'000;
    if (h > 0) {
        out += fmt::format("{}h", h);
    }
    if (m > 0) {
        out += fmt::format("{}m", m);
    }
    if (ms > 0) {
        if (ms % 1000 == 0) {
            out += fmt::format("{}s", ms / 1000);
        } else {
            std::string frac = fmt::format("{:03}", ms % 1000);
            while (frac.back() == '0') {
                frac.pop_back();
            }
            out += fmt::format("{}.{}s", ms / 1000, frac);
        }
    }
    return out;
}

} // namespace bsup::core
