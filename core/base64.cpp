#include "core/base64.hpp"

#include <array>
#include <cstdint>

namespace bsup::core {

namespace {

constexpr std::string_view k_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

} // namespace

std::string base64_encode(std::string_view data) {
    std::string out;
    out.reserve((data.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 2 < data.size(); i += 3) {
        auto n = static_cast<std::uint32_t>(static_cast<unsigned char>(data[i]) << 16 |
                                            static_cast<unsigned char>(data[i + 1]) << 8 |
                                            static_cast<unsigned char>(data[i + 2]));
        for (int shift : {18, 12, 6, 0}) {
            out += k_alphabet[(n >> shift) & 63];
        }
    }
    if (std::size_t rest = data.size() - i; rest > 0) {
        std::uint32_t n = static_cast<unsigned char>(data[i]) << 16;
        if (rest == 2) {
            n |= static_cast<unsigned char>(data[i + 1]) << 8;
        }
        out += k_alphabet[(n >> 18) & 63];
        out += k_alphabet[(n >> 12) & 63];
        out += rest == 2 ? k_alphabet[(n >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

std::string base64_decode(std::string_view text) {
    std::array<int, 256> table{};
    table.fill(-1);
    for (std::size_t i = 0; i < k_alphabet.size(); ++i) {
        table[static_cast<unsigned char>(k_alphabet[i])] = static_cast<int>(i);
    }
    std::string out;
    std::uint32_t buffer = 0;
    int bits = 0;
    for (char c : text) {
        int v = table[static_cast<unsigned char>(c)];
        if (v < 0) {
            continue; // padding, or anything else outside the alphabet
        }
        buffer = (buffer << 6) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((buffer >> bits) & 0xff);
        }
    }
    return out;
}

} // namespace bsup::core
