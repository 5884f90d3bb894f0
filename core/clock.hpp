#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace bsup::core {

using TimePoint = std::chrono::time_point<std::chrono::system_clock, std::chrono::milliseconds>;

TimePoint now();
TimePoint from_unix_ms(long long ms);
long long to_unix_ms(TimePoint t);

// RFC 3339 in UTC with milliseconds: "2026-12-04T19:46:19.123Z".
std::string format_rfc3339(TimePoint t);

// Accepts what format_rfc3339 writes, with or without fractional seconds, 'Z' or "+00:00".
std::optional<TimePoint> parse_rfc3339(std::string_view text);

} // namespace bsup::core
