#pragma once

#include <string>
#include <string_view>

namespace bsup::core {

constexpr std::size_t k_ksuid_length = 27;

// A new KSUID: 4 bytes of seconds since 2014-05-13 and 16 random bytes, in 27 base62 characters,
// so that IDs sort by creation time.
std::string new_ksuid();

// True when `id` has the form of a KSUID (27 base62 characters, within the 160-bit range).
bool is_ksuid(std::string_view id);

} // namespace bsup::core
