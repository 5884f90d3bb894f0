#include "drivers/consul/consul_config.hpp"

#include "core/errors.hpp"
#include "core/redact.hpp"

#include <cctype>
#include <cstdlib>
#include <fmt/format.h>
#include <fstream>
#include <sstream>

namespace bsup::drivers::consul {

namespace {

std::string env(const char* name) {
    const char* value = std::getenv(name);
    return value != nullptr ? value : "";
}

bool starts_with(std::string_view s, std::string_view prefix) {
    return s.substr(0, prefix.size()) == prefix;
}

std::string trim(std::string s) {
    const char* space = " \t\r\n";
    s.erase(s.find_last_not_of(space) + 1);
    s.erase(0, s.find_first_not_of(space));
    return s;
}

bool is_false(std::string value) {
    for (char& c : value) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return value == "0" || value == "false" || value == "no" || value == "off";
}

std::string read_token_file(const std::string& path, const std::string& source) {
    std::ifstream in(path);
    if (!in) {
        throw core::usage_error(
            fmt::format("cannot read the consul token file {} ({})", path, source),
            "check the path and its permissions");
    }
    std::stringstream text;
    text << in.rdbuf();
    return trim(text.str());
}

// The host:port part of a URL without scheme, path or user info.
std::string authority_of(const std::string& url) {
    std::string rest = url.substr(url.find("://") + 3);
    rest = rest.substr(0, rest.find('/'));
    if (std::size_t at = rest.rfind('@'); at != std::string::npos) {
        rest = rest.substr(at + 1);
    }
    return rest;
}

void set_address(ConsulConfig& config, const core::ConnectionSettings& settings) {
    std::string address = settings.connection;
    if (address.empty()) {
        address = "http://127.0.0.1:8500";
    }
    bool ssl = !env("CONSUL_HTTP_SSL").empty() && !is_false(env("CONSUL_HTTP_SSL"));
    if (starts_with(address, "unix://")) {
        config.unix_socket = address.substr(7);
        if (config.unix_socket.empty()) {
            throw core::usage_error("the consul connection 'unix://' names no socket",
                                    "use unix:///path/to/consul.sock");
        }
        config.base_url = "http://localhost";
        config.display = "unix://" + config.unix_socket;
        return;
    }
    if (starts_with(address, "consul://")) {
        address = (ssl ? "https://" : "http://") + address.substr(9);
    } else if (!starts_with(address, "http://") && !starts_with(address, "https://")) {
        if (address.find("://") != std::string::npos) {
            throw core::usage_error(
                fmt::format("the consul connection '{}' has a scheme bsup does not know",
                            core::redact(address)),
                "use consul://host:port, http(s)://host:port or unix:///path");
        }
        address = (ssl ? "https://" : "http://") + address; // CONSUL_HTTP_ADDR's bare host:port
    }
    while (!address.empty() && address.back() == '/') {
        address.pop_back();
    }
    if (authority_of(address).empty()) {
        throw core::usage_error(
            fmt::format("the consul connection '{}' names no host", core::redact(address)),
            "use consul://host:port, http(s)://host:port or unix:///path");
    }
    config.base_url = address;
    config.display = core::redact_connection(address);
}

// CONSUL_TLS_SERVER_NAME: ask for the server name in the URL (so that SNI and the certificate
// check use it) and tell libcurl to connect to the real address instead.
void set_server_name(ConsulConfig& config, const std::string& server_name) {
    if (server_name.empty() || !config.unix_socket.empty() ||
        !starts_with(config.base_url, "https://")) {
        return;
    }
    std::string authority = authority_of(config.base_url);
    std::string host = authority;
    std::string port = "443";
    if (std::size_t colon = authority.rfind(':');
        colon != std::string::npos && authority.find(']', colon) == std::string::npos) {
        host = authority.substr(0, colon);
        port = authority.substr(colon + 1);
    }
    config.connect_to = fmt::format("{}:{}:{}:{}", server_name, port, host, port);
    config.base_url = fmt::format("https://{}:{}", server_name, port);
}

} // namespace

ConsulConfig load_config(const core::ConnectionSettings& settings) {
    ConsulConfig config;
    config.timeout = settings.timeout;
    set_address(config, settings);

    if (!settings.token_file.empty()) {
        config.token = read_token_file(settings.token_file, "--token-file");
        config.token_source = "--token-file " + settings.token_file;
    } else if (std::string file = env("CONSUL_HTTP_TOKEN_FILE"); !file.empty()) {
        config.token = read_token_file(file, "CONSUL_HTTP_TOKEN_FILE");
        config.token_source = "CONSUL_HTTP_TOKEN_FILE " + file;
    } else if (std::string token = env("CONSUL_HTTP_TOKEN"); !token.empty()) {
        config.token = trim(token);
        config.token_source = "CONSUL_HTTP_TOKEN";
    }
    if (!config.token.empty()) {
        core::add_secret(config.token);
    }

    config.ca_file = env("CONSUL_CACERT");
    config.ca_path = env("CONSUL_CAPATH");
    config.client_cert = env("CONSUL_CLIENT_CERT");
    config.client_key = env("CONSUL_CLIENT_KEY");
    if (std::string verify = env("CONSUL_HTTP_SSL_VERIFY"); !verify.empty()) {
        config.verify_tls = !is_false(verify);
    }
    set_server_name(config, env("CONSUL_TLS_SERVER_NAME"));
    config.datacenter = env("CONSUL_DATACENTER");
    config.ns = env("CONSUL_NAMESPACE");
    return config;
}

} // namespace bsup::drivers::consul
