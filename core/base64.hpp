#pragma once

// Base64 (RFC 4648, standard alphabet, padded): Consul's KV values, PostgreSQL's SCRAM messages.

#include <string>
#include <string_view>

namespace bsup::core {

std::string base64_encode(std::string_view data);

// Skips anything outside the alphabet (padding included); never fails.
std::string base64_decode(std::string_view text);

} // namespace bsup::core
