#include "core/ksuid.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <ctime>
#include <doctest/doctest.h>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace bsup;

namespace {

constexpr std::string_view k_base62 =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr std::uint32_t k_ksuid_epoch = 1'400'000'000;

// The 160-bit big-endian number a KSUID spells (independent of bsup's encoder).
std::array<std::uint8_t, 20> decode(std::string_view id) {
    std::array<std::uint8_t, 20> bytes{};
    for (char c : id) {
        std::uint32_t carry = static_cast<std::uint32_t>(k_base62.find(c));
        for (std::size_t i = bytes.size(); i-- > 0;) {
            std::uint32_t acc = bytes[i] * 62u + carry;
            bytes[i] = static_cast<std::uint8_t>(acc & 0xFF);
            carry = acc >> 8;
        }
        REQUIRE(carry == 0); // fits in 160 bits
    }
    return bytes;
}

std::uint32_t timestamp_of(std::string_view id) {
    std::array<std::uint8_t, 20> b = decode(id);
    return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) |
           std::uint32_t{b[3]};
}

} // namespace

TEST_CASE("ksuid: 27 base62 characters that is_ksuid accepts") {
    for (int i = 0; i < 100; ++i) {
        std::string id = core::new_ksuid();
        CAPTURE(id);
        CHECK(id.size() == core::k_ksuid_length);
        CHECK(id.size() == 27);
        CHECK(std::all_of(id.begin(), id.end(),
                          [](char c) { return k_base62.find(c) != std::string_view::npos; }));
        CHECK(core::is_ksuid(id));
    }
}

TEST_CASE("ksuid: a known value decodes to its published timestamp") {
    // Segment's reference KSUID: timestamp 107608047, payload B5A1CD34B5F99D1154FB6853345C9735.
    const std::string id = "0ujtsYcgvSTl8PAuAdqWYSMnLOv";
    CHECK(core::is_ksuid(id));
    CHECK(timestamp_of(id) == 107'608'047u);
    std::array<std::uint8_t, 20> b = decode(id);
    CHECK(b[4] == 0xB5);
    CHECK(b[19] == 0x35);
}

TEST_CASE("ksuid: the time prefix is now") {
    auto before = static_cast<std::uint32_t>(std::time(nullptr));
    std::string id = core::new_ksuid();
    auto after = static_cast<std::uint32_t>(std::time(nullptr));
    CHECK(timestamp_of(id) + k_ksuid_epoch >= before);
    CHECK(timestamp_of(id) + k_ksuid_epoch <= after);
}

TEST_CASE("ksuid: unique over many") {
    std::set<std::string> seen;
    constexpr int k_count = 20'000;
    for (int i = 0; i < k_count; ++i) {
        seen.insert(core::new_ksuid());
    }
    CHECK(seen.size() == k_count);
}

TEST_CASE("ksuid: text order is creation-time order") {
    // The text order equals the numeric order of the 160-bit value, whose top 32 bits are time.
    for (int i = 0; i < 500; ++i) {
        std::string a = core::new_ksuid();
        std::string b = core::new_ksuid();
        CHECK((a < b) == (decode(a) < decode(b)));
    }
    // An ID made in a later second sorts after every ID of an earlier one.
    std::vector<std::string> earlier;
    for (int i = 0; i < 50; ++i) {
        earlier.push_back(core::new_ksuid());
    }
    std::uint32_t first_second = timestamp_of(earlier.back());
    std::string later;
    for (int i = 0; i < 300 && (later.empty() || timestamp_of(later) <= first_second); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        later = core::new_ksuid();
    }
    REQUIRE(timestamp_of(later) > first_second);
    for (const std::string& id : earlier) {
        CHECK(id < later);
    }
}

TEST_CASE("ksuid: is_ksuid refuses other forms") {
    CHECK(core::is_ksuid("000000000000000000000000000"));
    CHECK(core::is_ksuid("aWgEPTl1tmebfsQzFP4bxwgy80V")); // 2^160 - 1
    CHECK_FALSE(core::is_ksuid("aWgEPTl1tmebfsQzFP4bxwgy80W"));
    CHECK_FALSE(core::is_ksuid("zzzzzzzzzzzzzzzzzzzzzzzzzzz"));
    CHECK_FALSE(core::is_ksuid(""));
    CHECK_FALSE(core::is_ksuid("0ujtsYcgvSTl8PAuAdqWYSMnLO"));   // 26
    CHECK_FALSE(core::is_ksuid("0ujtsYcgvSTl8PAuAdqWYSMnLOvv")); // 28
    CHECK_FALSE(core::is_ksuid("0ujtsYcgvSTl8PAuAdqWYSMnLO-"));
    CHECK_FALSE(core::is_ksuid("0ujtsYcgvSTl8PAuAdqWYSMnLO_"));
    CHECK_FALSE(core::is_ksuid("0ujtsYcgvSTl8PAuAdqWYSMnLO "));
    CHECK_FALSE(core::is_ksuid("3f2b1c8e-0000-4000-8000-0000"));
}
