#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace bsup::core {

using Duration = std::chrono::milliseconds;

// Parses Go-style durations: "0", "500ms", "10s", "15m", "1h30m", "1.5h". Throws a usage Error
// naming `what` (the flag) when the text is not a duration or is negative.
Duration parse_duration(std::string_view text, std::string_view what = "duration");

// The shortest exact form: 900000 ms -> "15m", 5400000 -> "1h30m", 1500 -> "1.5s", 0 -> "0s".
std::string format_duration(Duration d);

} // namespace bsup::core
