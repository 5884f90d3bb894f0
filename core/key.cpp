#include "core/key.hpp"

#include "core/errors.hpp"

#include <fmt/format.h>

namespace bsup::core {

namespace {

// Length of the UTF-8 sequence starting at s[i], or 0 when it is not valid (overlong forms,
// surrogates and code points past U+10FFFF included).
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
    auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    unsigned char c = byte(i);
    std::size_t n = 0;
    char32_t cp = 0;
    if (c < 0x80) {
        return 1;
    } else if ((c & 0xE0) == 0xC0) {
        n = 2;
        cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        n = 3;
        cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (i + n > s.size()) {
        return 0;
    }
    for (std::size_t k = 1; k < n; ++k) {
        if ((byte(i + k) & 0xC0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (byte(i + k) & 0x3F);
    }
    constexpr char32_t k_min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < k_min[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        return 0;
    }
    if (cp >= 0x80 && cp < 0xA0) { // C1 control characters
        return 0;
    }
    return n;
}

} // namespace

void validate_key(std::string_view key) {
    auto fail = [&](std::string_view why) {
        std::string shown;
        for (char ch : key.substr(0, 80)) {
            auto u = static_cast<unsigned char>(ch);
            shown += (u < 0x20 || u == 0x7F) ? fmt::format("\\x{:02x}", u) : std::string(1, ch);
        }
        return usage_error(
            fmt::format("invalid key '{}{}': {}", shown, key.size() > 80 ? "..." : "", why),
            "keys are '/'-separated segments, like migrations/warehouse");
    };
    if (key.empty()) {
        throw fail("empty");
    }
    if (key.size() > k_max_key_bytes) {
        throw fail(fmt::format("longer than {} bytes", k_max_key_bytes));
    }
    for (std::size_t i = 0; i < key.size();) {
        auto u = static_cast<unsigned char>(key[i]);
        if (u < 0x20 || u == 0x7F) {
            throw fail("contains a control character");
        }
        std::size_t n = utf8_sequence(key, i);
        if (n == 0) {
            throw fail("not valid UTF-8 or contains a control character");
        }
        i += n;
    }
    if (key.front() == '/' || key.back() == '/') {
        throw fail("must not start or end with '/'");
    }
    std::size_t start = 0;
    while (start <= key.size()) {
        std::size_t end = key.find('/', start);
        if (end == std::string_view::npos) {
            end = key.size();
        }
        std::string_view segment = key.substr(start, end - start);
        if (segment.empty()) {
            throw fail("empty segment ('//')");
        }
        if (segment == "." || segment == "..") {
            throw fail("'.' and '..' are not allowed as segments");
        }
        start = end + 1;
    }
}

} // namespace bsup::core
