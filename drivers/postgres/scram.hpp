#pragma once

// The client side of SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL uses it: no channel
// binding ("n,,", bsup's own client does not do TLS), the user name left empty because the
// start-up message carries it. The server's signature is checked, as libpq does.

#include <optional>
#include <string>
#include <string_view>

namespace bsup::drivers::postgres {

class ScramClient {
  public:
    // `nonce`: printable, without ',' (base64 of random bytes). `user` stays empty for
    // PostgreSQL (RFC 7677's examples name one).
    ScramClient(std::string password, std::string nonce, std::string user = {});

    std::string client_first() const;
    // The client-final message for the server-first one; empty when that message is malformed,
    // does not extend our nonce, or asks for too few iterations (a downgrade) or absurdly many.
    std::optional<std::string> client_final(std::string_view server_first);
    // Whether the server-final message proves that the server knows the password.
    bool verify_server_final(std::string_view server_final) const;

  private:
    std::string bare_first() const; // client-first without its GS2 header

    std::string m_password;
    std::string m_nonce;
    std::string m_user;
    std::string m_auth_message;
    std::string m_salted_password;
};

} // namespace bsup::drivers::postgres
