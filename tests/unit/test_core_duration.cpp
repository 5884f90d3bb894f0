#include "core/duration.hpp"
#include "core/errors.hpp"

#include <doctest/doctest.h>
#include <random>

using namespace bsup;
using core::Duration;
using core::format_duration;
using core::parse_duration;
using namespace std::chrono_literals;

TEST_CASE("duration: parses Go-style durations") {
    CHECK(parse_duration("0") == 0ms);
    CHECK(parse_duration("0s") == 0ms);
    CHECK(parse_duration("500ms") == 500ms);
    CHECK(parse_duration("10s") == 10s);
    CHECK(parse_duration("15m") == 15min);
    CHECK(parse_duration("2h") == 2h);
    CHECK(parse_duration("1h30m") == 90min);
    CHECK(parse_duration("2h45m30s") == 2h + 45min + 30s);
    CHECK(parse_duration("1m500ms") == 60'500ms);
    CHECK(parse_duration("1.5s") == 1500ms);
    CHECK(parse_duration("1.5h") == 90min);
    CHECK(parse_duration("0.25m") == 15s);
    CHECK(parse_duration("24h") == 24h);
    CHECK(parse_duration("90s") == 90s);
}

TEST_CASE("duration: formats the shortest exact form") {
    CHECK(format_duration(0ms) == "0s");
    CHECK(format_duration(1ms) == "1ms");
    CHECK(format_duration(500ms) == "500ms");
    CHECK(format_duration(1s) == "1s");
    CHECK(format_duration(1500ms) == "1.5s");
    CHECK(format_duration(1250ms) == "1.25s");
    CHECK(format_duration(1001ms) == "1.001s");
    CHECK(format_duration(10s) == "10s");
    CHECK(format_duration(15min) == "15m");
    CHECK(format_duration(90min) == "1h30m");
    CHECK(format_duration(1h) == "1h");
    CHECK(format_duration(1h + 1s) == "1h1s");
    CHECK(format_duration(24h) == "24h");
    CHECK(format_duration(2h + 45min + 30s + 5ms) == "2h45m30.005s");
}

TEST_CASE("duration: format and parse round trip") {
    std::vector<Duration> values = {0ms, 1ms,   999ms, 1s,  1001ms,    59'999ms, 1min,
                                    61s, 15min, 90min, 24h, 24h + 1ms, 1000h};
    std::mt19937_64 random(20261204);
    std::uniform_int_distribution<long long> ms(0, 48LL * 3'600'000);
    for (int i = 0; i < 2000; ++i) {
        values.emplace_back(ms(random));
    }
    for (Duration d : values) {
        CAPTURE(d.count());
        CHECK(parse_duration(format_duration(d)) == d);
    }
    for (const char* text : {"10s", "15m", "1h30m", "500ms", "1.5s", "2h45m30.005s", "0s"}) {
        CAPTURE(text);
        CHECK(format_duration(parse_duration(text)) == text);
    }
}

TEST_CASE("duration: bad text is a usage error naming the flag") {
    for (const char* text : {"",     "10",     "abc",  "s",    "-5s",
                             "-1h",  "5x",     "10 s", " 10s", "10s ",
                             "1h30", "1.2.3s", "1e3s", "+5s",  "5sec",
                             "1d",   "10S",    "ms",   ".",    "99999999999999999h"}) {
        CAPTURE(text);
        try {
            (void)parse_duration(text, "--ttl");
            FAIL("parsed a bad duration");
        } catch (const core::Error& e) {
            CHECK(e.exit_code() == core::ExitCode::usage);
            CHECK(std::string(e.what()).find("--ttl") != std::string::npos);
            CHECK_FALSE(e.hint().empty());
        }
    }
}
