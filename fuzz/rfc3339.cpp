// core/clock: parse_rfc3339. What parses formats back (format_rfc3339) to a text that parses to the
// same instant; a text in the canonical form of a real instant formats back to itself.
#include "core/clock.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto t = bsup::core::parse_rfc3339(text);
    if (!t) {
        return 0;
    }
    std::string formatted = bsup::core::format_rfc3339(*t);
    auto again = bsup::core::parse_rfc3339(formatted);
    if (!again || *again != *t) {
        std::abort();
    }
    if (bsup::core::format_rfc3339(*again) != formatted) {
        std::abort();
    }
    return 0;
}
