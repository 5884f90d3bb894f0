#pragma once

#include <string_view>

namespace bsup::core {

constexpr std::size_t k_max_key_bytes = 512;

// Throws a usage Error unless `key` is 1 to 512 bytes of valid UTF-8 without control characters,
// made of '/'-separated segments none of which is empty, "." or "..". Called before any backend
// is contacted.
void validate_key(std::string_view key);

} // namespace bsup::core
