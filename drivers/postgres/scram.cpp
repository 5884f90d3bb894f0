#include "drivers/postgres/scram.hpp"

#include "core/base64.hpp"
#include "drivers/postgres/digest.hpp"

#include <charconv>

namespace bsup::drivers::postgres {

namespace {

// The value of attribute `name` ("r", "s", "i", "v") in "a=...,b=..."; empty when absent.
std::string_view attribute(std::string_view message, char name) {
    while (!message.empty()) {
        std::size_t comma = message.find(',');
        std::string_view part = message.substr(0, comma);
        if (part.size() >= 2 && part[0] == name && part[1] == '=') {
            return part.substr(2);
        }
        if (comma == std::string_view::npos) {
            break;
        }
        message.remove_prefix(comma + 1);
    }
    return {};
}

// Server-chosen work factor: below RFC 7677's minimum is a downgrade; far above it would keep
// bsup busy for minutes (PostgreSQL's default is 4096).
constexpr unsigned k_min_iterations = 4096;
constexpr unsigned k_max_iterations = 10'000'000;

} // namespace

ScramClient::ScramClient(std::string password, std::string nonce, std::string user)
    : m_password(std::move(password)), m_nonce(std::move(nonce)), m_user(std::move(user)) {}

std::string ScramClient::bare_first() const {
    return "n=" + m_user + ",r=" + m_nonce;
}

std::string ScramClient::client_first() const {
    return "n,," + bare_first();
}

std::optional<std::string> ScramClient::client_final(std::string_view server_first) {
    std::string_view nonce = attribute(server_first, 'r');
    std::string salt = core::base64_decode(attribute(server_first, 's'));
    std::string_view count = attribute(server_first, 'i');
    unsigned iterations = 0;
    auto [end, ec] = std::from_chars(count.data(), count.data() + count.size(), iterations);
    if (nonce.size() <= m_nonce.size() || nonce.substr(0, m_nonce.size()) != m_nonce ||
        salt.empty() || ec != std::errc() || end != count.data() + count.size() ||
        iterations < k_min_iterations || iterations > k_max_iterations) {
        return std::nullopt;
    }
    std::string without_proof = "c=biws,r=" + std::string(nonce); // biws: base64 of "n,,"
    m_auth_message = bare_first() + "," + std::string(server_first) + "," + without_proof;
    m_salted_password = pbkdf2_sha256(m_password, salt, iterations);
    std::string client_key = hmac_sha256(m_salted_password, "Client Key");
    std::string signature = hmac_sha256(sha256(client_key), m_auth_message);
    for (std::size_t i = 0; i < client_key.size(); ++i) {
        client_key[i] = static_cast<char>(client_key[i] ^ signature[i]);
    }
    return without_proof + ",p=" + core::base64_encode(client_key);
}

bool ScramClient::verify_server_final(std::string_view server_final) const {
    if (m_salted_password.empty()) {
        return false;
    }
    std::string server_key = hmac_sha256(m_salted_password, "Server Key");
    std::string expected = core::base64_encode(hmac_sha256(server_key, m_auth_message));
    return attribute(server_final, 'v') == expected;
}

} // namespace bsup::drivers::postgres
