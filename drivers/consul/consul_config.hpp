#pragma once

// Where and how to reach Consul: the address (--connection, CONSUL_HTTP_ADDR, CONSUL_ADDRESS,
// resolved by core/connection.cpp), the ACL token and the TLS, datacenter and namespace settings
// of Consul's own CLI variables.

#include "core/connection.hpp"

#include <string>

namespace bsup::drivers::consul {

struct ConsulConfig {
    std::string base_url;     // "http://127.0.0.1:8500", no trailing slash; may hold user:password
    std::string unix_socket;  // unix:///path: the socket, and base_url is http://localhost
    std::string display;      // the address as messages show it (redacted)
    std::string connect_to;   // CURLOPT_CONNECT_TO for CONSUL_TLS_SERVER_NAME, else empty
    std::string token;        // the ACL token; registered with core::add_secret
    std::string token_source; // where the token came from, for messages ("--token-file F")
    std::string ca_file;
    std::string ca_path;
    std::string client_cert;
    std::string client_key;
    bool verify_tls = true;
    std::string datacenter; // ?dc=
    std::string ns;         // ?ns= (Consul Enterprise)
    core::Duration timeout{};
};

// Reads the settings and the CONSUL_* variables. Throws a usage Error for an address it cannot
// use or a token file it cannot read. The token never appears in a message.
ConsulConfig load_config(const core::ConnectionSettings& settings);

} // namespace bsup::drivers::consul
