// core/key: validate_key. What it accepts must be a key by SPEC's rules, checked here
// independently: 1 to 512 bytes, no control characters, '/'-separated segments none of which is
// empty, "." or "..". A rejection is always a usage Error (exit 2), never another exception.
#include "core/key.hpp"
#include "core/errors.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace {

bool accepts(std::string_view key) {
    try {
        bsup::core::validate_key(key);
        return true;
    } catch (const bsup::core::Error& e) {
        if (e.exit_code() != bsup::core::ExitCode::usage) {
            std::abort();
        }
        return false;
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view key(reinterpret_cast<const char*>(data), size);
    if (!accepts(key)) {
        return 0;
    }
    if (key.empty() || key.size() > bsup::core::k_max_key_bytes || key.front() == '/' ||
        key.back() == '/') {
        std::abort();
    }
    for (char c : key) {
        auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7F) {
            std::abort();
        }
    }
    // Every segment is a key of its own, and so is every prefix that ends at a segment's end.
    std::size_t start = 0;
    for (;;) {
        std::size_t end = key.find('/', start);
        std::string_view segment =
            key.substr(start, end == std::string_view::npos ? end : end - start);
        if (segment.empty() || segment == "." || segment == ".." || !accepts(segment)) {
            std::abort();
        }
        if (end == std::string_view::npos) {
            break;
        }
        if (!accepts(key.substr(0, end))) {
            std::abort();
        }
        start = end + 1;
    }
    return 0;
}
