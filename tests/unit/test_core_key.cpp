#include "core/errors.hpp"
#include "core/key.hpp"

#include <doctest/doctest.h>

using namespace bsup;

namespace {

// The message of the usage error that validate_key throws; empty when it accepts the key.
std::string rejection(std::string_view key) {
    try {
        core::validate_key(key);
    } catch (const core::Error& e) {
        CHECK(e.exit_code() == core::ExitCode::usage);
        return e.what();
    }
    return {};
}

} // namespace

TEST_CASE("key: Blacksmith's forms and other valid keys") {
    const std::string at_limit(core::k_max_key_bytes, 'k');
    // 510 ASCII bytes and one 2-byte character: exactly 512 bytes.
    const std::string multibyte_at_limit = std::string(510, 'k') + "\xc3\xa9";
    for (const std::string& key :
         {std::string("a"), std::string("migrations/warehouse"),
          std::string("triggers/orders/nightly"), std::string("actions/slack/notify"),
          std::string("a.b"), std::string("..."), std::string("a/.hidden"), std::string("a/b./c"),
          std::string("with space"), std::string("a-b_c:d@e"),
          std::string("cl\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac/\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87"),
          std::string("emoji/\xf0\x9f\x94\x92"), std::string("max/\xf4\x8f\xbf\xbf"), at_limit,
          multibyte_at_limit}) {
        CAPTURE(key);
        CHECK(rejection(key).empty());
    }
}

TEST_CASE("key: invalid keys are usage errors") {
    const std::string too_long(core::k_max_key_bytes + 1, 'k');
    const std::string multibyte_too_long = std::string(511, 'k') + "\xc3\xa9"; // 513 bytes
    for (const std::string& key : {
             std::string(),       // empty
             too_long,            // 513 bytes
             multibyte_too_long,  // 513 bytes, 512 characters
             std::string("a\nb"), // control characters
             std::string("a\tb"),
             std::string("\x01"),
             std::string("a\x7f"),
             std::string("a\0b", 3),
             std::string("c1/\xc2\x85"),      // U+0085, a C1 control
             std::string("\xff"),             // not UTF-8
             std::string("a\xc3"),            // truncated sequence
             std::string("\xc3(x"),           // bad continuation
             std::string("\xc0\xaf"),         // overlong '/'
             std::string("\xe0\x80\xaf"),     // overlong, 3 bytes
             std::string("\xed\xa0\x80"),     // a UTF-16 surrogate
             std::string("\xf4\x90\x80\x80"), // past U+10FFFF
             std::string("\x80"),             // a lone continuation byte
             std::string("a//b"),             // empty segment
             std::string("/a"),               // leading '/'
             std::string("a/"),               // trailing '/'
             std::string("/"),
             std::string("//"),
             std::string("."), // '.' and '..' segments
             std::string(".."),
             std::string("a/./b"),
             std::string("a/../b"),
             std::string("./a"),
             std::string("a/.."),
         }) {
        CAPTURE(key);
        CHECK_FALSE(rejection(key).empty());
    }
}

TEST_CASE("key: the error shows control characters escaped and long keys cut") {
    std::string message = rejection("bad\nkey");
    CHECK(message.find('\n') == std::string::npos);
    CHECK(message.find("\\x0a") != std::string::npos);

    std::string long_message = rejection(std::string(600, 'x'));
    CHECK(long_message.size() < 300);
    CHECK(long_message.find("512") != std::string::npos);
}
