#pragma once

// The digests PostgreSQL's password authentication needs (SCRAM-SHA-256: SHA-256, HMAC, PBKDF2;
// the older "md5" method: MD5), so that bsup's own protocol client needs no OpenSSL. Inputs and
// outputs are raw bytes in std::string.

#include <string>
#include <string_view>

namespace bsup::drivers::postgres {

std::string sha256(std::string_view data);
std::string hmac_sha256(std::string_view key, std::string_view data);
// PBKDF2-HMAC-SHA-256 with one 32-byte block: SCRAM's Hi(password, salt, iterations).
std::string pbkdf2_sha256(std::string_view password, std::string_view salt, unsigned iterations);
// MD5 as 32 lowercase hex digits.
std::string md5_hex(std::string_view data);

} // namespace bsup::drivers::postgres
