#include "core/clock.hpp"

#include <cstdio>
#include <ctime>
#include <fmt/format.h>

namespace bsup::core {

TimePoint now() {
    return std::chrono::time_point_cast<std::chrono::milliseconds>(
        std::chrono::system_clock::now());
}

TimePoint from_unix_ms(long long ms) {
    return TimePoint(std::chrono::milliseconds(ms));
}

long long to_unix_ms(TimePoint t) {
    return t.time_since_epoch().count();
}

std::string format_rfc3339(TimePoint t) {
    long long ms = to_unix_ms(t);
    long long secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
    auto frac = static_cast<int>(ms - secs * 1000);
    std::time_t tt = static_cast<std::time_t>(secs);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900,
                       tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

std::optional<TimePoint> parse_rfc3339(std::string_view text) {
    std::string s(text);
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0, consumed = 0;
    if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec,
                    &consumed) != 6 ||
        consumed != 19) {
        return std::nullopt;
    }
    std::size_t i = 19;
    long long ms = 0;
    if (i < s.size() && s[i] == '.') {
        ++i;
        int digits = 0;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
            if (digits < 3) {
                ms = ms * 10 + (s[i] - '0');
            }
            ++digits;
            ++i;
        }
        if (digits == 0) {
            return std::nullopt;
        }
        for (; digits < 3; ++digits) {
            ms *= 10;
        }
    }
    std::string_view zone = std::string_view(s).substr(i);
    if (zone != "Z" && zone != "+00:00") {
        return std::nullopt;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) {
        return std::nullopt;
    }
    std::tm tm{};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    long long at = static_cast<long long>(timegm(&tm)) * 1000 + ms;
    // A leap second on the last day of 9999 is the year 10000, which RFC 3339 cannot write.
    constexpr long long k_last_ms = 253402300799999; // 9999-12-31T23:59:59.999Z
    if (at > k_last_ms) {
        return std::nullopt;
    }
    return from_unix_ms(at);
}

} // namespace bsup::core
