#include "core/ksuid.hpp"

#include "core/errors.hpp"

#include <array>
#include <cstdint>
#include <ctime>
#include <sys/random.h>

namespace bsup::core {

namespace {

constexpr std::string_view k_alphabet =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr std::uint32_t k_epoch = 1'400'000'000;
constexpr std::string_view k_max = "aWgEPTl1tmebfsQzFP4bxwgy80V"; // 2^160 - 1

std::string encode(std::array<std::uint8_t, 20> bytes) {
    std::string out(k_ksuid_length, '0');
    // Repeated division of the 160-bit big-endian number by 62.
    for (std::size_t pos = k_ksuid_length; pos-- > 0;) {
        std::uint32_t rem = 0;
        for (std::uint8_t& b : bytes) {
            std::uint32_t acc = (rem << 8) | b;
            b = static_cast<std::uint8_t>(acc / 62);
            rem = acc % 62;
        }
        out[pos] = k_alphabet[rem];
    }
    return out;
}

} // namespace

std::string new_ksuid() {
    std::array<std::uint8_t, 20> bytes{};
    auto ts = static_cast<std::uint32_t>(std::time(nullptr)) - k_epoch;
    for (int i = 0; i < 4; ++i) {
        bytes[i] = static_cast<std::uint8_t>(ts >> (24 - 8 * i));
    }
    if (getrandom(bytes.data() + 4, 16, 0) != 16) {
        throw Error(ExitCode::backend, "internal", "cannot read random bytes for a session ID");
    }
    return encode(bytes);
}

bool is_ksuid(std::string_view id) {
    if (id.size() != k_ksuid_length) {
        return false;
    }
    for (char c : id) {
        if (k_alphabet.find(c) == std::string_view::npos) {
            return false;
        }
    }
    return id <= k_max; // same length and alphabet order matches ASCII order
}

} // namespace bsup::core
