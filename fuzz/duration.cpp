// core/duration: parse_duration and format_duration. What parses is never negative nor past the
// documented bound, and its shortest form parses back to the same duration. A rejection is a usage
// Error (exit 2), never another exception.
#include "core/duration.hpp"
#include "core/errors.hpp"

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string_view>

namespace {

std::optional<bsup::core::Duration> parse(std::string_view text) {
    try {
        return bsup::core::parse_duration(text, "--ttl");
    } catch (const bsup::core::Error& e) {
        if (e.exit_code() != bsup::core::ExitCode::usage) {
            std::abort();
        }
        return std::nullopt;
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto d = parse(text);
    if (!d) {
        return 0;
    }
    if (d->count() < 0 || d->count() > 1'000'000'000'000'000LL) {
        std::abort();
    }
    std::string shortest = bsup::core::format_duration(*d);
    auto again = parse(shortest);
    if (!again || *again != *d) {
        std::abort();
    }
    return 0;
}
