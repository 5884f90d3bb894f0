#include "core/clock.hpp"

#include <doctest/doctest.h>

using namespace bsup;
using core::format_rfc3339;
using core::from_unix_ms;
using core::parse_rfc3339;

TEST_CASE("clock: RFC 3339 in UTC with milliseconds") {
    CHECK(format_rfc3339(from_unix_ms(0)) == "1970-01-01T00:00:00.000Z");
    CHECK(format_rfc3339(from_unix_ms(1'700'000'000'123)) == "2023-11-14T22:13:20.123Z");
    CHECK(format_rfc3339(from_unix_ms(951'782'400'000)) == "2000-02-29T00:00:00.000Z");
    CHECK(format_rfc3339(from_unix_ms(-1)) == "1969-12-31T23:59:59.999Z");
    CHECK(core::to_unix_ms(from_unix_ms(42)) == 42);
}

TEST_CASE("clock: parse accepts what format writes, and its other UTC forms") {
    for (long long ms : {0LL, 1LL, 999LL, 1'700'000'000'123LL, 4'102'444'799'999LL}) {
        CAPTURE(ms);
        std::optional<core::TimePoint> back = parse_rfc3339(format_rfc3339(from_unix_ms(ms)));
        REQUIRE(back.has_value());
        CHECK(core::to_unix_ms(*back) == ms);
    }
    CHECK(parse_rfc3339("2023-11-14T22:13:20Z") == from_unix_ms(1'700'000'000'000));
    CHECK(parse_rfc3339("2023-11-14T22:13:20+00:00") == from_unix_ms(1'700'000'000'000));
    CHECK(parse_rfc3339("2023-11-14T22:13:20.5Z") == from_unix_ms(1'700'000'000'500));
    CHECK(parse_rfc3339("2023-11-14T22:13:20.123456789Z") == from_unix_ms(1'700'000'000'123));
}

TEST_CASE("clock: parse refuses what is not an RFC 3339 UTC time") {
    for (const char* text :
         {"", "yesterday", "2023-11-14", "2023-11-14 22:13:20Z", "2023-11-14T22:13:20",
          "2023-11-14T22:13:20+01:00", "2023-11-14T22:13:20.Z", "2023-13-14T22:13:20Z",
          "2023-11-32T22:13:20Z", "2023-11-14T24:13:20Z", "2023-11-14T22:60:20Z",
          "2023-11-14T22:13:20Zjunk", "23-11-14T22:13:20Z"}) {
        CAPTURE(text);
        CHECK_FALSE(parse_rfc3339(text).has_value());
    }
}

TEST_CASE("clock: now() is the system clock in milliseconds") {
    auto before =
        std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
    core::TimePoint t = core::now();
    auto after = std::chrono::system_clock::now();
    CHECK(t >= before);
    CHECK(t <= after);
}
