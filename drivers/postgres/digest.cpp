#include "drivers/postgres/digest.hpp"

#include <array>
#include <cstdint>
#include <cstring>

namespace bsup::drivers::postgres {

namespace {

std::uint32_t rotr(std::uint32_t x, int n) {
    return (x >> n) | (x << (32 - n));
}

std::uint32_t rotl(std::uint32_t x, int n) {
    return (x << n) | (x >> (32 - n));
}

constexpr std::array<std::uint32_t, 64> k_sha256{
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

// Both digests pad the message the same way (Merkle-Damgard, 64-byte blocks); only the byte
// order of the length differs.
std::string padded(std::string_view data, bool big_endian) {
    std::string m(data);
    std::uint64_t bits = static_cast<std::uint64_t>(data.size()) * 8;
    m += static_cast<char>(0x80);
    while (m.size() % 64 != 56) {
        m += '\0';
    }
    for (int i = 0; i < 8; ++i) {
        int shift = big_endian ? 56 - 8 * i : 8 * i;
        m += static_cast<char>((bits >> shift) & 0xff);
    }
    return m;
}

std::uint32_t byte(const std::string& m, std::size_t i) {
    return static_cast<unsigned char>(m[i]);
}

} // namespace

std::string sha256(std::string_view data) {
    std::array<std::uint32_t, 8> h{0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    std::string m = padded(data, true);
    for (std::size_t block = 0; block < m.size(); block += 64) {
        std::array<std::uint32_t, 64> w{};
        for (std::size_t i = 0; i < 16; ++i) {
            std::size_t p = block + 4 * i;
            w[i] = byte(m, p) << 24 | byte(m, p + 1) << 16 | byte(m, p + 2) << 8 | byte(m, p + 3);
        }
        for (std::size_t i = 16; i < 64; ++i) {
            std::uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
            std::uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }
        auto [a, b, c, d, e, f, g, hh] = h;
        for (std::size_t i = 0; i < 64; ++i) {
            std::uint32_t s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
            std::uint32_t ch = (e & f) ^ (~e & g);
            std::uint32_t t1 = hh + s1 + ch + k_sha256[i] + w[i];
            std::uint32_t s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
            std::uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
            std::uint32_t t2 = s0 + maj;
            hh = g;
            g = f;
            f = e;
            e = d + t1;
            d = c;
            c = b;
            b = a;
            a = t1 + t2;
        }
        std::array<std::uint32_t, 8> add{a, b, c, d, e, f, g, hh};
        for (std::size_t i = 0; i < 8; ++i) {
            h[i] += add[i];
        }
    }
    std::string out;
    for (std::uint32_t v : h) {
        for (int shift : {24, 16, 8, 0}) {
            out += static_cast<char>((v >> shift) & 0xff);
        }
    }
    return out;
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
    std::string k = key.size() > 64 ? sha256(key) : std::string(key);
    k.resize(64, '\0');
    std::string inner(64, '\0');
    std::string outer(64, '\0');
    for (std::size_t i = 0; i < 64; ++i) {
        inner[i] = static_cast<char>(k[i] ^ 0x36);
        outer[i] = static_cast<char>(k[i] ^ 0x5c);
    }
    return sha256(outer + sha256(inner + std::string(data)));
}

std::string pbkdf2_sha256(std::string_view password, std::string_view salt, unsigned iterations) {
    std::string u = hmac_sha256(password, std::string(salt) + std::string("\0\0\0\1", 4));
    std::string result = u;
    for (unsigned i = 1; i < iterations; ++i) {
        u = hmac_sha256(password, u);
        for (std::size_t j = 0; j < result.size(); ++j) {
            result[j] = static_cast<char>(result[j] ^ u[j]);
        }
    }
    return result;
}

std::string md5_hex(std::string_view data) {
    static constexpr std::array<int, 64> shifts{
        7,  12, 17, 22, 7,  12, 17, 22, 7,  12, 17, 22, 7,  12, 17, 22, 5,  9,  14, 20, 5,  9,
        14, 20, 5,  9,  14, 20, 5,  9,  14, 20, 4,  11, 16, 23, 4,  11, 16, 23, 4,  11, 16, 23,
        4,  11, 16, 23, 6,  10, 15, 21, 6,  10, 15, 21, 6,  10, 15, 21, 6,  10, 15, 21};
    static constexpr std::array<std::uint32_t, 64> k{
        0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613,
        0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193,
        0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d,
        0x02441453, 0xd8a1e681, 0xe7d3fbc8, 0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed,
        0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122,
        0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
        0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665, 0xf4292244,
        0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
        0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb,
        0xeb86d391};
    std::array<std::uint32_t, 4> h{0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};
    std::string m = padded(data, false);
    for (std::size_t block = 0; block < m.size(); block += 64) {
        std::array<std::uint32_t, 16> w{};
        for (std::size_t i = 0; i < 16; ++i) {
            std::size_t p = block + 4 * i;
            w[i] = byte(m, p) | byte(m, p + 1) << 8 | byte(m, p + 2) << 16 | byte(m, p + 3) << 24;
        }
        auto [a, b, c, d] = h;
        for (std::size_t i = 0; i < 64; ++i) {
            std::uint32_t f = 0;
            std::size_t g = 0;
            if (i < 16) {
                f = (b & c) | (~b & d);
                g = i;
            } else if (i < 32) {
                f = (d & b) | (~d & c);
                g = (5 * i + 1) % 16;
            } else if (i < 48) {
                f = b ^ c ^ d;
                g = (3 * i + 5) % 16;
            } else {
                f = c ^ (b | ~d);
                g = (7 * i) % 16;
            }
            std::uint32_t next = b + rotl(a + f + k[i] + w[g], shifts[i]);
            a = d;
            d = c;
            c = b;
            b = next;
        }
        h[0] += a;
        h[1] += b;
        h[2] += c;
        h[3] += d;
    }
    static constexpr char k_hex[] = "0123456789abcdef";
    std::string out;
    for (std::uint32_t v : h) {
        for (int shift : {0, 8, 16, 24}) {
            unsigned octet = (v >> shift) & 0xff;
            out += k_hex[octet >> 4];
            out += k_hex[octet & 15];
        }
    }
    return out;
}

} // namespace bsup::drivers::postgres
